from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel

from app import clock
from app.audit import actor_of
from app.auth import Agency, Caller
from app.deps import CallerDep, SessionDep
from app.inspection import service
from app.inspection.schemas import (
    BanList,
    BanListRead,
    EnterpriseFilingCreate,
    EnterpriseFilingRead,
    FilingCancel,
    FilingInvalidation,
    FilingReview,
    FilingStatus,
    GoodsFilingCreate,
    GoodsFilingRead,
    NegativeList,
    NegativeListRead,
    PositiveList,
    PositiveListRead,
    Sampling,
    SamplingRead,
    ScreeningRead,
    TaskRead,
    TaskResult,
)
from app.inspection.service import FilingKind, ListKind
from app.responses import error_responses
from app.schemas import MAX_ROW_ID

router = APIRouter(prefix="/inspection", tags=["inspection"])

FilingId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@router.post(
    "/enterprise-filings",
    response_model=EnterpriseFilingRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def file_enterprise(data: EnterpriseFilingCreate, session: SessionDep, caller: CallerDep) -> object:
    """An enterprise files with inspection before doing business (valid nationwide)."""
    return service.file_enterprise(session, caller=caller, data=data, at=clock.now())


@router.post(
    "/goods-filings",
    response_model=GoodsFilingRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def file_goods(data: GoodsFilingCreate, session: SessionDep, caller: CallerDep) -> object:
    """An e-commerce enterprise files goods before listing them (its filing must be approved)."""
    return service.file_goods(session, caller=caller, data=data, at=clock.now())


def _filing_routes(path: str, kind: FilingKind, read: type[BaseModel]) -> None:
    """The reading and reviewing routes, the same for enterprise and goods filings."""

    @router.get(
        path,
        response_model=list[read],  # type: ignore[valid-type]
        responses=error_responses(401, 403),
        name=f"list_{kind.value}_filings",
    )
    def list_filings(
        session: SessionDep,
        caller: CallerDep,
        status_: Annotated[FilingStatus | None, Query(alias="status")] = None,
        customs_code: Annotated[str | None, Query(alias="customsCode", pattern=r"^\d{4}$")] = None,
        after: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="page: ids above this")] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> object:
        """An enterprise's own filings; an inspection officer's districts' filings."""
        return service.list_filings(
            session,
            kind=kind,
            caller=caller,
            status=status_,
            customs_code=customs_code,
            after_id=after,
            limit=limit,
        )

    @router.get(
        path + "/{filing_id}",
        response_model=read,
        responses=error_responses(401, 404),
        name=f"get_{kind.value}_filing",
    )
    def get_filing(filing_id: FilingId, session: SessionDep, caller: CallerDep) -> object:
        """One filing, to its enterprise and the inspection officers of its district."""
        return service.get_filing(session, kind=kind, filing_id=filing_id, caller=caller)

    @router.post(
        path + "/{filing_id}/review",
        response_model=read,
        responses=error_responses(401, 403, 404, 409, 422),
        name=f"review_{kind.value}_filing",
    )
    def review(
        filing_id: FilingId, data: FilingReview, session: SessionDep, caller: CallerDep
    ) -> object:
        """Approve or reject a received filing (inspection officers of its district)."""
        return service.review_filing(
            session, kind=kind, filing_id=filing_id, officer=caller, data=data, at=clock.now()
        )

    @router.post(
        path + "/{filing_id}/cancel",
        response_model=read,
        responses=error_responses(401, 403, 404, 409, 422),
        name=f"cancel_{kind.value}_filing",
    )
    def cancel(
        filing_id: FilingId, data: FilingCancel, session: SessionDep, caller: CallerDep
    ) -> object:
        """The enterprise withdraws its filing."""
        return service.cancel_filing(
            session,
            kind=kind,
            filing_id=filing_id,
            caller=caller,
            reason=data.reason,
            at=clock.now(),
        )

    @router.post(
        path + "/{filing_id}/invalidate",
        response_model=read,
        responses=error_responses(401, 403, 404, 409, 422),
        name=f"invalidate_{kind.value}_filing",
    )
    def invalidate(
        filing_id: FilingId, data: FilingInvalidation, session: SessionDep, caller: CallerDep
    ) -> object:
        """Void an approved filing: false data, not what the platform shows, prohibited goods."""
        return service.invalidate_filing(
            session, kind=kind, filing_id=filing_id, officer=caller, data=data, at=clock.now()
        )


_filing_routes("/enterprise-filings", FilingKind.ENTERPRISE, EnterpriseFilingRead)
_filing_routes("/goods-filings", FilingKind.GOODS, GoodsFilingRead)


def _anyone(caller: Caller) -> None:
    """Every authenticated caller may read the list."""


def _inspection_or_admin(caller: Caller) -> None:
    if not caller.is_admin:
        caller.require_officer(Agency.INSPECTION)


def _list_routes(
    path: str,
    kind: ListKind,
    body: type[BaseModel],
    read: type[BaseModel],
    may_read: Callable[[Caller], None],
) -> None:
    """GET the version in force, PUT a new version (administrators)."""

    def _read(session: SessionDep) -> Any:
        in_force = service.current_list(session, kind=kind)
        return read.model_validate(
            {
                "version": in_force.version,
                "created_by": in_force.created_by,
                "created_at": in_force.created_at,
                "body": in_force.body,
            }
        )

    @router.get(
        path, response_model=read, responses=error_responses(401, 403), name=f"get_{kind.value}"
    )
    def get_list(session: SessionDep, caller: CallerDep) -> object:
        """The version in force (0: the built-in default)."""
        may_read(caller)
        return _read(session)

    @router.put(
        path,
        response_model=read,
        responses=error_responses(401, 403, 409, 422),
        name=f"put_{kind.value}",
    )
    def put_list(data: body, session: SessionDep, caller: CallerDep) -> object:  # type: ignore[valid-type]
        """Replace it with a new version (administrators); later screenings record it."""
        caller.require_admin()
        service.replace_list(session, kind=kind, body=data, actor=actor_of(caller))
        return _read(session)


_list_routes("/negative-list", ListKind.NEGATIVE, NegativeList, NegativeListRead, _anyone)
_list_routes("/positive-list", ListKind.POSITIVE, PositiveList, PositiveListRead, _anyone)
_list_routes("/bans", ListKind.BANS, BanList, BanListRead, _anyone)
_list_routes("/sampling", ListKind.SAMPLING, Sampling, SamplingRead, _inspection_or_admin)


@router.get("/tasks", response_model=list[TaskRead], responses=error_responses(401, 403))
def list_tasks(
    session: SessionDep,
    caller: CallerDep,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(open|passed|failed|closed)$")
    ] = "open",
    customs_code: Annotated[str | None, Query(alias="customsCode", pattern=r"^\d{4}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """Inspection tasks of the officer's districts, oldest first (open ones by default)."""
    return service.list_tasks(
        session, officer=caller, status=status_, customs_code=customs_code, limit=limit
    )


@router.get("/tasks/{task_id}", response_model=TaskRead, responses=error_responses(401, 403, 404))
def get_task(task_id: UUID, session: SessionDep, caller: CallerDep) -> object:
    """One inspection task."""
    return service.get_task(session, task_id=task_id, officer=caller)


@router.post(
    "/tasks/{task_id}/result",
    response_model=TaskRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
def record_result(
    task_id: UUID, data: TaskResult, session: SessionDep, caller: CallerDep
) -> object:
    """pass (the list is cleared) or fail with a disposal: return, destroy, rectify."""
    return service.record_result(
        session, task_id=task_id, officer=caller, data=data, at=clock.now()
    )


@router.get(
    "/screenings/{invt_no}",
    response_model=ScreeningRead,
    responses=error_responses(401, 403, 404),
)
def get_screening(invt_no: str, session: SessionDep, caller: CallerDep) -> object:
    """Why inspection cleared, held or refused a list: rules, list versions, rate and seed."""
    return service.get_screening(session, invt_no=invt_no, officer=caller)
