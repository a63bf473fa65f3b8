"""The role check at the top of a page: the signed-in actor from the session, or a refusal shown with st.error.

The services check the role again, so a page drawn by mistake still reads
nothing it may not.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.auth.roles import Actor, Role
from services.reports.downloads import to_csv_bytes, to_excel_bytes


def actor_allowed_on_page(page_title: str, allowed: tuple[Role, ...]) -> Actor | None:
    """Return the signed-in actor when their role may see the page; otherwise show why not and return None."""
    actor = st.session_state.get("actor")
    roles = ", ".join(role.label for role in allowed)
    if not isinstance(actor, Actor):
        st.error(f"The {page_title} page needs a signed-in user with one of these roles: {roles}. Sign in first.", icon=":material/lock:")
        return None
    if actor.role not in allowed:
        st.error(
            f"{actor.username} is signed in as {actor.role.label}, and the {page_title} page is only for these roles: {roles}.",
            icon=":material/lock:",
        )
        return None
    return actor


def download_buttons(frame: pd.DataFrame, file_stem: str, key: str) -> None:
    """Offer the table as CSV and as Excel, with formula-like text neutralised."""
    csv_column, excel_column = st.columns(2)
    csv_column.download_button(
        "Download CSV", to_csv_bytes(frame), file_name=f"{file_stem}.csv", mime="text/csv", key=f"{key}_csv",
        icon=":material/download:",
    )
    excel_column.download_button(
        "Download Excel", to_excel_bytes(frame, sheet_name=file_stem), file_name=f"{file_stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx",
        icon=":material/download:",
    )
