"""Operations: sync runs, the quarantine, jobs and their staleness, the outbox, the audit log, and re-queuing a corrected file."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import streamlit as st

from services.auth.navigation import OPERATIONS
from services.auth.roles import RoleRefused
from services.db.engine import DatabaseUnavailable
from services.operations.queries import (
    DEFAULT_PAGE_SIZE,
    Page,
    distinct_values,
    job_staleness,
    list_job_runs,
    list_outbox,
    list_quarantine,
    list_sync_runs,
    outbox_status_counts,
    quarantine_reasons,
    search_audit_log,
)
from services.operations.requeue import FileNotAccepted, list_failed_inbox_files, requeue_corrected_file
from services.web import download_buttons, get_engine, guard_page, get_settings

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30
ANY = "(any)"


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_sync_runs(_engine, actor, source, entity, status, page) -> Page:
    return list_sync_runs(_engine, actor, source=source, entity=entity, status=status, page=page)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_quarantine(_engine, actor, sync_run_id, entity, reason, page) -> Page:
    return list_quarantine(_engine, actor, sync_run_id=sync_run_id, entity=entity, reason=reason, page=page)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_quarantine_reasons(_engine, actor, sync_run_id, entity, reason):
    return quarantine_reasons(_engine, actor, sync_run_id=sync_run_id, entity=entity, reason=reason)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_choices(_engine, actor, column) -> list[str]:
    return distinct_values(_engine, actor, column)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_job_staleness(_engine, actor, _settings):
    return job_staleness(_engine, actor, _settings, now=datetime.now(timezone.utc))


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_job_runs(_engine, actor, job_name, page) -> Page:
    return list_job_runs(_engine, actor, job_name=job_name, page=page)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_outbox(_engine, actor, status, page) -> Page:
    return list_outbox(_engine, actor, status=status, page=page)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_outbox_counts(_engine, actor) -> dict[str, int]:
    return outbox_status_counts(_engine, actor)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_audit_log(_engine, actor, by, action, entity, search, page) -> Page:
    return search_audit_log(_engine, actor, by=by, action=action, entity=entity, search=search, page=page)


def chosen(value: str) -> str | None:
    return None if value == ANY else value


def page_number(key: str) -> int:
    """Draw a page-number input; the caption under the table gives the page count."""
    return int(st.number_input("Page", min_value=1, value=1, step=1, key=key))


def render_page_table(page: Page, key: str, file_stem: str, column_config: dict) -> None:
    if page.rows.empty:
        st.caption("No rows match.")
        return
    st.dataframe(page.rows, column_config=column_config, hide_index=True, width="stretch", key=f"{key}_table")
    first = (page.page - 1) * page.page_size + 1
    st.caption(f"Rows {first:,}-{first + len(page.rows) - 1:,} of {page.total:,} (page {page.page} of {page.page_count:,}).")
    download_buttons(page.rows, file_stem, key)


def timestamp(label: str, business_timezone: str):
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm z", timezone=business_timezone)


def render_sync_runs(engine, actor, business_timezone: str) -> None:
    source, entity, status, page_column = st.columns(4)
    source = source.selectbox("Source", [ANY, *load_choices(engine, actor, "sync_runs.source")], key="sync_source")
    entity = entity.selectbox("Entity", [ANY, *load_choices(engine, actor, "sync_runs.entity")], key="sync_entity")
    status = status.selectbox("Status", [ANY, "running", "succeeded", "failed"], key="sync_status")
    with page_column:
        number = page_number("sync_page")
    page = load_sync_runs(engine, actor, chosen(source), chosen(entity), chosen(status), number)
    render_page_table(page, "sync_runs", "sync_runs", {
        "id": st.column_config.NumberColumn("Run"),
        "started_at": timestamp("Started", business_timezone),
        "finished_at": timestamp("Finished", business_timezone),
        "read_count": st.column_config.NumberColumn("Read", format="localized"),
        "inserted_count": st.column_config.NumberColumn("Inserted", format="localized"),
        "updated_count": st.column_config.NumberColumn("Updated", format="localized"),
        "unchanged_count": st.column_config.NumberColumn("Unchanged", format="localized"),
        "rejected_count": st.column_config.NumberColumn("Rejected", format="localized"),
        "error": st.column_config.TextColumn("Error", width="large"),
    })


def render_quarantine(engine, actor, business_timezone: str) -> None:
    run_column, entity_column, reason_column, page_column = st.columns(4)
    run_id = run_column.number_input("Sync run", min_value=0, value=0, step=1, key="quarantine_run", help="0 shows every run.")
    entity = entity_column.selectbox("Entity", [ANY, *load_choices(engine, actor, "quarantine.entity")], key="quarantine_entity")
    reason = reason_column.text_input("Reason contains", key="quarantine_reason")
    with page_column:
        number = page_number("quarantine_page")
    filters = (int(run_id) or None, chosen(entity), reason or None)
    reasons = load_quarantine_reasons(engine, actor, *filters)
    if not reasons.empty:
        st.markdown("**Most frequent reasons**")
        st.dataframe(reasons, hide_index=True, width="stretch", key="quarantine_reasons_table", column_config={
            "reason": st.column_config.TextColumn("Reason", width="large"),
            "records": st.column_config.NumberColumn("Records", format="localized"),
        })
    page = load_quarantine(engine, actor, *filters, number)
    render_page_table(page, "quarantine", "quarantine", {
        "id": st.column_config.NumberColumn("Id"),
        "sync_run_id": st.column_config.NumberColumn("Sync run"),
        "reason": st.column_config.TextColumn("Reason", width="large"),
        "record": st.column_config.TextColumn("Record", help="The record as read from the source."),
        "created_at": timestamp("Quarantined", business_timezone),
        "resolved_at": timestamp("Resolved", business_timezone),
    })


def render_jobs(engine, actor, settings) -> None:
    staleness = load_job_staleness(engine, actor, settings)
    stale = staleness[staleness["stale"]]
    if not stale.empty:
        st.warning(
            "Stale: " + ", ".join(stale["job_name"]) + ". A job is stale when its last success is older than its "
            "interval (the inbox poll interval for sync_inbox) plus a minute.",
            icon=":material/schedule:",
        )
    st.dataframe(staleness, hide_index=True, width="stretch", key="job_staleness_table", column_config={
        "job_name": st.column_config.TextColumn("Job"),
        "interval_seconds": st.column_config.NumberColumn("Interval (s)", format="localized"),
        "last_status": st.column_config.TextColumn("Last status"),
        "last_started_at": timestamp("Last started", settings.business_timezone),
        "last_success_at": timestamp("Last success", settings.business_timezone),
        "seconds_since_success": st.column_config.NumberColumn("Seconds since success", format="%.0f"),
        "stale": st.column_config.CheckboxColumn("Stale"),
        "last_error": st.column_config.TextColumn("Last error", width="large"),
    })
    download_buttons(staleness, "job_staleness", "job_staleness")

    st.markdown("**Job runs**")
    name_column, page_column = st.columns(2)
    job_name = name_column.selectbox("Job", [ANY, *staleness["job_name"]], key="job_name")
    with page_column:
        number = page_number("job_page")
    page = load_job_runs(engine, actor, chosen(job_name), number)
    render_page_table(page, "job_runs", "job_runs", {
        "id": st.column_config.NumberColumn("Run"),
        "started_at": timestamp("Started", settings.business_timezone),
        "finished_at": timestamp("Finished", settings.business_timezone),
        "counts": st.column_config.TextColumn("Counts"),
        "error": st.column_config.TextColumn("Error", width="large"),
    })


def render_outbox(engine, actor, business_timezone: str) -> None:
    counts = load_outbox_counts(engine, actor)
    for column, status in zip(st.columns(3), ("pending", "delivered", "failed")):
        column.metric(f"Outbox {status}", f"{counts[status]:,}")
    status_column, page_column = st.columns(2)
    status = status_column.selectbox("Status", [ANY, "pending", "delivered", "failed"], key="outbox_status")
    with page_column:
        number = page_number("outbox_page")
    page = load_outbox(engine, actor, chosen(status), number)
    render_page_table(page, "outbox", "outbox", {
        "attempts": st.column_config.NumberColumn("Attempts"),
        "next_attempt_at": timestamp("Next attempt", business_timezone),
        "last_error": st.column_config.TextColumn("Last error", width="large"),
        "created_at": timestamp("Created", business_timezone),
        "delivered_at": timestamp("Delivered", business_timezone),
    })


def render_audit_log(engine, actor, business_timezone: str) -> None:
    by_column, action_column, entity_column, search_column, page_column = st.columns(5)
    by = by_column.selectbox("Actor", [ANY, *load_choices(engine, actor, "audit_log.actor")], key="audit_actor")
    action = action_column.selectbox("Action", [ANY, *load_choices(engine, actor, "audit_log.action")], key="audit_action")
    entity = entity_column.selectbox("Entity", [ANY, *load_choices(engine, actor, "audit_log.entity")], key="audit_entity")
    search = search_column.text_input("Text", key="audit_search", help="Found in the entity id, reason, rule, before and after.")
    with page_column:
        number = page_number("audit_page")
    page = load_audit_log(engine, actor, chosen(by), chosen(action), chosen(entity), search or None, number)
    render_page_table(page, "audit_log", "audit_log", {
        "occurred_at": timestamp("When", business_timezone),
        "before": st.column_config.TextColumn("Before"),
        "after": st.column_config.TextColumn("After"),
        "reason": st.column_config.TextColumn("Reason", width="large"),
    })


def render_requeue(engine, actor, settings) -> None:
    failed = list_failed_inbox_files(settings, actor)
    st.markdown("**Files in the inbox's failed folders**")
    if failed.empty:
        st.caption("No file has failed.")
    else:
        st.dataframe(failed, hide_index=True, width="stretch", key="failed_files_table", column_config={
            "moved_at": timestamp("Moved", settings.business_timezone),
            "error": st.column_config.TextColumn("Error", width="large"),
        })
    with st.form("requeue_form", clear_on_submit=True):
        upload = st.file_uploader("Corrected file", key="requeue_upload")
        folder = st.selectbox(
            "Inbox folder", ["(by kind)", "erp", "exports", "frepple", "edi"], key="requeue_folder",
            help="(by kind) puts the file in the folder that loads its kind.",
        )
        submitted = st.form_submit_button("Re-queue for the inbox")
    if submitted and upload is not None:
        try:
            requeued = requeue_corrected_file(
                engine, settings, actor, upload.name, upload.getvalue(),
                folder_name=None if folder == "(by kind)" else folder,
            )
        except FileNotAccepted as error:
            st.error(str(error), icon=":material/error:")
            return
        load_audit_log.clear()
        st.success(
            f"{requeued.original_name} was queued as {requeued.folder}/{requeued.file_name}; the worker loads it "
            f"within {settings.worker_poll_seconds} s.",
            icon=":material/check:",
        )


def render_page() -> None:
    actor = guard_page(OPERATIONS)
    settings = get_settings()
    try:
        engine = get_engine()
        tabs = st.tabs(["Sync runs", "Quarantine", "Jobs", "Outbox", "Audit log", "Re-queue a file"])
        with tabs[0]:
            render_sync_runs(engine, actor, settings.business_timezone)
        with tabs[1]:
            render_quarantine(engine, actor, settings.business_timezone)
        with tabs[2]:
            render_jobs(engine, actor, settings)
        with tabs[3]:
            render_outbox(engine, actor, settings.business_timezone)
        with tabs[4]:
            render_audit_log(engine, actor, settings.business_timezone)
        with tabs[5]:
            render_requeue(engine, actor, settings)
    except DatabaseUnavailable as error:
        logger.warning("operations page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")


render_page()
