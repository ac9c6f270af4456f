"""Every name a client sends (a business, a person, a store, a scanner, a program, a reward, a
customer's display name) must be something to read: only spaces, or a control character, is
refused by the wire format itself, for the API and the console alike."""

import importlib
import pkgutil
import typing

import msgspec
import pytest

import mobile_contract
from mobile_contract.base import Name

NAME_PATTERN = typing.get_args(Name)[1].pattern


def _name_fields() -> list[tuple[str, object]]:
    found = []
    for module_info in pkgutil.iter_modules(mobile_contract.__path__):
        module = importlib.import_module(f"mobile_contract.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__:
                for field in msgspec.structs.fields(value):
                    info = msgspec.inspect.type_info(field.type)
                    kinds = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
                    if any(isinstance(k, msgspec.inspect.StrType) and k.pattern == NAME_PATTERN for k in kinds):
                        found.append((f"{value.__name__}.{field.name}", field.type))
    return found


FIELDS = _name_fields()


def test_the_names_are_found() -> None:
    names = {name for name, _ in FIELDS}
    assert {"OwnerSetup.business_name", "StaffCreate.name", "StoreCreate.name", "ProgramCreate.reward_name"} <= names


@pytest.mark.parametrize(("field", "annotation"), FIELDS, ids=[name for name, _ in FIELDS])
def test_a_name_of_only_spaces_or_with_a_control_character_is_refused(field: str, annotation: object) -> None:
    for blank in (" ", "   ", "\u3000", "\u00a0 ", "Olive\x00", "Olive\nOwner", "\x1b[31mRed"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(blank, annotation)
    for fine in ("Olive", " Olive ", "Café du Nord", "<script>", "Olive \u202egnp"):
        assert msgspec.convert(fine, annotation) == fine
