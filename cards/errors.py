"""The one exception the domain raises; `api/problems.py` turns it into problem+json."""

from typing import Any

from mobile_contract.problems import Problem


class DomainError(Exception):
    """A refusal the caller can act on, named by its stable problem type."""

    def __init__(self, problem: Problem, detail: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or problem.title)
        self.problem = problem
        self.detail = detail or problem.title
        # Extension members of the problem+json body (RFC 9457 section 3.2), e.g. a held reward's reasons.
        self.extra = extra
