from fastapi import APIRouter

from app import clock
from app.customs import summaries
from app.customs.summary_schemas import OverdueReport, SummaryApplyIn, SummaryPlan, SummaryRead
from app.deps import CallerDep, SessionDep
from app.responses import error_responses

router = APIRouter(prefix="/summaries", tags=["summaries"])


@router.post("/preview", response_model=SummaryPlan, responses=error_responses(401, 403, 422))
def preview(data: SummaryApplyIn, session: SessionDep, caller: CallerDep) -> object:
    """The declarations a 701 with this head and list would produce now (nothing is kept)."""
    return summaries.preview(session, caller=caller, head=data.head, lines=data.lines)


@router.get("/overdue", response_model=OverdueReport, responses=error_responses(401, 403))
def overdue(session: SessionDep, caller: CallerDep) -> object:
    """Released B lists still unsummarised after their deadline: an agent's own, or a district's."""
    return summaries.overdue(session, caller=caller, now=clock.now())


@router.get("/{sum_no}", response_model=SummaryRead, responses=error_responses(401, 404))
def get_summary(sum_no: str, session: SessionDep, caller: CallerDep) -> object:
    """A summary (its latest version) with its declarations and their items."""
    return summaries.get_summary(session, sum_no=sum_no, caller=caller)
