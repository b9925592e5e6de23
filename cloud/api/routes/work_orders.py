"""Work orders, with their transitions, checklists, labour, parts, photos, rating;
SLA targets and the watchers told of SLA warnings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile, status
from fastapi.responses import FileResponse

from cloud.api.deps import (
    IdPath,
    IdQuery,
    PageDep,
    ScopeDep,
    SessionDep,
    StateDep,
    read_upload,
)
from cloud.models import (
    ChecklistItem,
    LabourEntry,
    PartUsed,
    SlaTarget,
    Urgency,
    WorkOrder,
    WorkOrderPhoto,
    WorkOrderState,
    WorkOrderTransition,
    WorkOrderWatcher,
)
from cloud.schemas.common import Listing
from cloud.schemas.work_orders import (
    ChecklistItemCreate,
    ChecklistItemPublic,
    CostsPublic,
    LabourCreate,
    LabourPublic,
    PartCreate,
    PartPublic,
    PhotoPublic,
    RatingCreate,
    SlaTargetCreate,
    SlaTargetPublic,
    TransitionCreate,
    TransitionPublic,
    WatcherCreate,
    WatcherPublic,
    WorkOrderCreate,
    WorkOrderPublic,
    WorkOrderUpdate,
)
from cloud.services import work_order_photos, work_orders
from cloud.services.access import Permission
from cloud.services.attachments import Upload
from cloud.services.equipment import locate
from cloud.services.errors import NotFoundError
from cloud.services.records import list_visible

router = APIRouter(prefix="/work-orders", tags=["work orders"])
sla_router = APIRouter(prefix="/sla-targets", tags=["work orders"])
watchers_router = APIRouter(prefix="/work-order-watchers", tags=["work orders"])


@router.get("", response_model=Listing[WorkOrderPublic])
def list_work_orders(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    unit_id: IdQuery = None,
    assignee_user_id: IdQuery = None,
    state: WorkOrderState | None = None,
    urgency: Urgency | None = None,
) -> Any:
    filters = {
        WorkOrder.property_id: property_id,
        WorkOrder.unit_id: unit_id,
        WorkOrder.assignee_user_id: assignee_user_id,
        WorkOrder.state: state,
        WorkOrder.urgency: urgency,
    }
    rows, count = list_visible(session, scope, WorkOrder, page, filters=filters)
    return {"data": rows, "count": count}


@router.post("", response_model=WorkOrderPublic, status_code=status.HTTP_201_CREATED)
def create_work_order(
    session: SessionDep, scope: ScopeDep, body: WorkOrderCreate
) -> Any:
    """Staff report anywhere in their properties; owners and tenants on their own
    units (give ``unit_id``). Due times follow the property's SLA targets."""
    where = locate(
        session,
        scope,
        property_id=body.property_id,
        building_id=body.building_id,
        unit_id=body.unit_id,
    )
    record = work_orders.create_work_order(
        session,
        scope,
        **body.model_dump(),
        source=work_orders.source_of(scope, where.property_id),
        requester_user_id=scope.actor.user_id,
    )
    session.commit()
    return record


@router.get("/{work_order_id}", response_model=WorkOrderPublic)
def read_work_order(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    return scope.get(session, WorkOrder, work_order_id)


@router.patch("/{work_order_id}", response_model=WorkOrderPublic)
def update_work_order(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, body: WorkOrderUpdate
) -> Any:
    given = body.model_dump(exclude_unset=True)
    record = work_orders.update_work_order(session, scope, work_order_id, given)
    session.commit()
    return record


@router.post(
    "/{work_order_id}/transitions",
    response_model=WorkOrderPublic,
    responses={409: {"description": "Not a move allowed from the current state."}},
)
def move_work_order(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, body: TransitionCreate
) -> Any:
    """Staff: assign, start, hold, resume, resolve, close, cancel. The requester:
    cancel a new order; close or reopen a resolved one."""
    record = work_orders.transition(
        session,
        scope,
        work_order_id,
        body.to,
        note=body.note,
        assignee_user_id=body.assignee_user_id,
        team=body.team,
        pause_clock=body.pause_clock,
    )
    session.commit()
    return record


@router.get("/{work_order_id}/transitions", response_model=list[TransitionPublic])
def list_transitions(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath
) -> Any:
    record = scope.get(session, WorkOrder, work_order_id)
    return work_orders.children(session, WorkOrderTransition, record.id)


@router.get("/{work_order_id}/checklist", response_model=list[ChecklistItemPublic])
def list_checklist(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    record = scope.get(session, WorkOrder, work_order_id)
    return work_orders.children(session, ChecklistItem, record.id)


@router.post(
    "/{work_order_id}/checklist",
    response_model=ChecklistItemPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_checklist_item(
    session: SessionDep,
    scope: ScopeDep,
    work_order_id: IdPath,
    body: ChecklistItemCreate,
) -> Any:
    item = work_orders.add_checklist_item(session, scope, work_order_id, body.text)
    session.commit()
    return item


@router.post(
    "/{work_order_id}/checklist/{item_id}/done", response_model=ChecklistItemPublic
)
def tick_checklist_item(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, item_id: IdPath
) -> Any:
    item = work_orders.tick_checklist_item(session, scope, work_order_id, item_id)
    session.commit()
    return item


@router.get("/{work_order_id}/labour", response_model=list[LabourPublic])
def list_labour(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    record = work_orders.get_for_work(session, scope, work_order_id)
    return work_orders.children(session, LabourEntry, record.id)


@router.post(
    "/{work_order_id}/labour",
    response_model=LabourPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_labour(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, body: LabourCreate
) -> Any:
    """One technician's overlapping entries count once in the totals."""
    entry = work_orders.add_labour(session, scope, work_order_id, **body.model_dump())
    session.commit()
    return entry


@router.get("/{work_order_id}/parts", response_model=list[PartPublic])
def list_parts(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    record = work_orders.get_for_work(session, scope, work_order_id)
    return work_orders.children(session, PartUsed, record.id)


@router.post(
    "/{work_order_id}/parts",
    response_model=PartPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_part(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, body: PartCreate
) -> Any:
    part = work_orders.add_part(session, scope, work_order_id, **body.model_dump())
    session.commit()
    return part


@router.get("/{work_order_id}/costs", response_model=CostsPublic)
def read_costs(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    record = work_orders.get_for_work(session, scope, work_order_id)
    totals = work_orders.costs(session, record)
    return {
        "labour_hours": totals.labour_hours,
        "labour_cost": totals.labour_cost,
        "parts_cost": totals.parts_cost,
        "total": totals.total,
        "chargeable": record.chargeable_items(),
    }


@router.post("/{work_order_id}/rating", response_model=WorkOrderPublic)
def rate_work_order(
    session: SessionDep, scope: ScopeDep, work_order_id: IdPath, body: RatingCreate
) -> Any:
    """The requester, once the order is resolved: 1 to 5 and a comment."""
    record = work_orders.rate(
        session, scope, work_order_id, rating=body.rating, comment=body.comment
    )
    session.commit()
    return record


@router.get("/{work_order_id}/photos", response_model=list[PhotoPublic])
def list_photos(session: SessionDep, scope: ScopeDep, work_order_id: IdPath) -> Any:
    record = scope.get(session, WorkOrder, work_order_id)
    return work_orders.children(session, WorkOrderPhoto, record.id)


@router.post(
    "/{work_order_id}/photos",
    response_model=PhotoPublic,
    status_code=status.HTTP_201_CREATED,
    description="A PNG, JPEG or PDF judged by its content; the requester and "
    "staff may add them.",
)
def upload_photo(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    work_order_id: IdPath,
    file: Annotated[UploadFile, File()],
) -> Any:
    store = state.attachments
    data = read_upload(file, store.max_bytes)
    upload = Upload(file.filename or "", file.content_type, data)
    photo = work_order_photos.attach(session, scope, store, work_order_id, upload)
    session.commit()
    return photo


@router.get(
    "/{work_order_id}/photos/{photo_id}/content",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
def download_photo(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    work_order_id: IdPath,
    photo_id: IdPath,
) -> Any:
    record = scope.get(session, WorkOrder, work_order_id)
    photo = session.get(WorkOrderPhoto, photo_id)
    if photo is None or photo.work_order_id != record.id:
        raise NotFoundError(f"Photo {photo_id} not found.")
    path = state.attachments.path(photo.sha256)
    if not path.exists():
        raise NotFoundError(f"The file of photo {photo.id} is missing from the store.")
    return FileResponse(path, media_type=photo.content_type, filename=photo.filename)


# --- SLA targets and watchers ------------------------------------------------------


@sla_router.get("", response_model=Listing[SlaTargetPublic])
def list_sla_targets(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    filters = {SlaTarget.property_id: property_id}
    rows, count = list_visible(session, scope, SlaTarget, page, filters=filters)
    return {"data": rows, "count": count}


@sla_router.post(
    "", response_model=SlaTargetPublic, status_code=status.HTTP_201_CREATED
)
def create_sla_target(
    session: SessionDep, scope: ScopeDep, body: SlaTargetCreate
) -> Any:
    """For orders made from now on; a second target for the same urgency and
    category is a 409."""
    record = work_orders.create_sla_target(session, scope, body.model_dump())
    session.commit()
    return record


@watchers_router.get("", response_model=Listing[WatcherPublic])
def list_watchers(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    scope.require(Permission.WORK_ORDERS_WRITE)
    filters = {WorkOrderWatcher.property_id: property_id}
    rows, count = list_visible(session, scope, WorkOrderWatcher, page, filters=filters)
    return {"data": rows, "count": count}


@watchers_router.post(
    "", response_model=WatcherPublic, status_code=status.HTTP_201_CREATED
)
def create_watcher(session: SessionDep, scope: ScopeDep, body: WatcherCreate) -> Any:
    """Where the property's SLA warnings and breaches go (webhook URL, Web Push
    subscription JSON, or an apprise URL for SMS, e-mail, chat)."""
    record = work_orders.create_watcher(session, scope, body.model_dump())
    session.commit()
    return record
