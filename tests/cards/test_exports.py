"""A CSV cell someone typed never starts a formula in a spreadsheet, however it hides its start."""

import pytest

from cards.exports import _cell


@pytest.mark.parametrize(
    "typed",
    [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        ' =HYPERLINK("http://evil.example")',
        "   +1",
        "\u00a0=1",
        "\u200b=1",
        "\ufeff=1",
        "\u3000@x",
        "\n=1",
        "\uff1d1",  # a full-width equals sign
        "\uff0b1",
        "\uff0d1",
        "\uff201",
    ],
)
def test_a_cell_that_would_start_a_formula_is_kept_as_text(typed: str) -> None:
    assert _cell(typed) == f"'{typed}"


@pytest.mark.parametrize("typed", ["Olive", "R-1001", " Olive", "café", "1=1", "", "\u00a0"])
def test_other_cells_are_as_typed(typed: str) -> None:
    assert _cell(typed) == typed
