import datetime as dt

import streamlit as st

from core import access, calendars
from ui import downloads, session, tables

t = session.t
viewer = session.require_page("pages/admin.py")

st.title(t("admin.title"))
st.caption(t("admin.subtitle"))


def column_label(name: str) -> str:
    return t(f"admin.column.{name}")


with session.engine().connect() as conn:
    accounts = access.users(conn, viewer)
    units = access.org_units(conn)

unit_names = {unit.path: unit for unit in units}


def unit_label(path: str) -> str:
    unit = unit_names.get(path)
    if unit is None:
        return path
    if unit.level == "city":
        return t("admin.city", name=unit.name)
    indent = "\u3000" * (1 if unit.level == "district" else 2)
    return f"{indent}{unit.name}"


users_tab, audit_tab, roles_tab = st.tabs(
    [t("admin.tab_users"), t("admin.tab_audit"), t("admin.tab_roles")]
)

with users_tab:
    st.caption(t("admin.users_caption", count=len(accounts)))
    shown = accounts.assign(
        role=accounts["role"].map(session.role_name),
        org_unit=accounts["org_unit"].fillna("").map(unit_label),
    )
    st.dataframe(shown.rename(columns=column_label), hide_index=True, width="stretch")

    with st.expander(t("admin.create_user")), st.form("create_user", clear_on_submit=True):
        new_name = st.text_input(t("admin.user_name"), key="new_user_name")
        new_display = st.text_input(t("admin.display_name"))
        new_role = st.selectbox(
            t("admin.role"), access.ROLES, format_func=session.role_name, key="new_role"
        )
        new_unit = st.selectbox(t("admin.org_unit"), list(unit_names), format_func=unit_label)
        new_manager = st.text_input(t("admin.manager_id"), help=t("admin.manager_id_help"))
        new_grant = st.checkbox(t("admin.contact_grant"), help=t("admin.contact_grant_help"))
        new_password = st.text_input(
            t("admin.initial_password"),
            type="password",
            key="new_password",
            help=t("access.password_rules", length=access.MIN_PASSWORD_LENGTH),
        )
        if st.form_submit_button(t("admin.create"), type="primary"):
            try:
                with session.engine().begin() as conn:
                    access.create_user(
                        conn,
                        viewer,
                        new_name,
                        new_password,
                        new_role,
                        display_name=new_display or None,
                        org_unit=new_unit or None,
                        manager_id=new_manager.strip() or None,
                        contact_grant=new_grant,
                    )
            except access.AccessError as error:
                session.show_error(error)
            else:
                st.success(t("admin.created", user_name=new_name.strip()))
                st.rerun()

    if not accounts.empty:
        st.subheader(t("admin.edit_user"))
        chosen = st.selectbox(t("admin.account"), accounts["user_name"], key="edit_account")
        row = accounts.set_index("user_name").loc[chosen]
        with st.form(f"edit_user_{chosen}"):
            roles = list(access.ROLES)
            role = st.selectbox(
                t("admin.role"),
                roles,
                index=roles.index(row["role"]) if row["role"] in roles else 0,
                format_func=session.role_name,
            )
            paths = list(unit_names)
            current_unit = row["org_unit"] if isinstance(row["org_unit"], str) else ""
            org_unit = st.selectbox(
                t("admin.org_unit"),
                paths,
                index=paths.index(current_unit) if current_unit in paths else 0,
                format_func=unit_label,
            )
            manager_id = st.text_input(
                t("admin.manager_id"),
                value=row["manager_id"] if isinstance(row["manager_id"], str) else "",
                help=t("admin.manager_id_help"),
            )
            # What the role really gets; a role whose rule is fixed has nothing to choose.
            grant = st.checkbox(
                t("admin.contact_grant"),
                value=bool(row["contact_grant"]),
                help=t("admin.contact_grant_help"),
                disabled=access.contact_rule(row["role"]) != "granted",
            )
            active = st.checkbox(t("admin.active"), value=bool(row["active"]))
            if st.form_submit_button(t("admin.save")):
                try:
                    with session.engine().begin() as conn:
                        access.update_user(
                            conn,
                            viewer,
                            chosen,
                            role=role,
                            org_unit=org_unit or None,
                            manager_id=manager_id.strip() or None,
                            contact_grant=grant,
                            active=active,
                        )
                except access.AccessError as error:
                    session.show_error(error)
                else:
                    st.success(t("admin.saved", user_name=chosen))
                    st.rerun()

        st.subheader(t("admin.reset_password"))
        with st.form("reset_password", clear_on_submit=True):
            target = st.selectbox(t("admin.account"), accounts["user_name"])
            password = st.text_input(
                t("admin.new_password"),
                type="password",
                help=t("access.password_rules", length=access.MIN_PASSWORD_LENGTH),
            )
            if st.form_submit_button(t("admin.reset")):
                try:
                    with session.engine().begin() as conn:
                        access.reset_password(conn, viewer, target, password)
                except access.AccessError as error:
                    session.show_error(error)
                else:
                    st.success(t("admin.reset_done", user_name=target))

with audit_tab:
    st.caption(t("admin.audit_caption", limit=f"{access.AUDIT_ROWS_LIMIT:,}"))
    left, middle, right = st.columns(3)
    everyone = ""
    person = left.selectbox(
        t("admin.filter_user"),
        [everyone, *accounts["user_name"]],
        format_func=lambda name: name or t("admin.everyone"),
    )
    action = middle.selectbox(
        t("admin.filter_action"),
        ["", *access.AUDIT_ACTIONS],
        format_func=lambda name: t(f"access.action_{name}") if name else t("admin.all_actions"),
    )
    dates = right.date_input(t("admin.filter_dates"), value=[])
    start = end = None
    if len(dates) >= 1:
        start = dt.datetime.combine(dates[0], dt.time(), tzinfo=calendars.LOCAL_TIME)
    if len(dates) == 2:
        end = dt.datetime.combine(
            dates[1] + dt.timedelta(days=1), dt.time(), tzinfo=calendars.LOCAL_TIME
        )
    with session.engine().connect() as conn:
        entries = access.audit_entries(
            conn, viewer, user_name=person or None, action=action or None, start=start, end=end
        )
    st.caption(t("admin.entries", count=len(entries)))
    shown_entries = entries.assign(
        action=entries["action"].map(lambda name: t(f"access.action_{name}"))
    ).rename(columns=column_label)
    st.dataframe(
        shown_entries,
        hide_index=True,
        width="stretch",
        column_config=tables.zoned_times(shown_entries),
    )
    downloads.offer(t("admin.download_audit"), entries, "audit_log", key="download_audit")

with roles_tab:
    st.subheader(t("admin.org_tree"))
    st.caption(t("admin.org_caption"))
    if len(units) == 1:
        st.info(t("admin.no_data"))
    st.dataframe(
        {
            t("admin.level"): [t(f"admin.level_{unit.level}") for unit in units],
            t("admin.unit"): [unit_label(unit.path) for unit in units],
            t("admin.path"): [unit.path for unit in units],
        },
        hide_index=True,
        width="stretch",
    )
    st.subheader(t("admin.role_contacts"))
    st.dataframe(
        {
            t("admin.role"): [session.role_name(role) for role in access.ROLES],
            t("admin.contact_fields"): [
                t(f"admin.contact_{access.contact_rule(role)}") for role in access.ROLES
            ],
        },
        hide_index=True,
        width="stretch",
    )
    st.subheader(t("admin.role_pages"))
    st.dataframe(
        {
            t("admin.page"): [
                f"{t('nav.' + path.split('/')[-1].removesuffix('.py'))} ({path})"
                for path in access.PAGE_ROLES
            ],
            **{
                session.role_name(role): [
                    "✓" if role in roles else "" for roles in access.PAGE_ROLES.values()
                ]
                for role in access.ROLES
            },
        },
        hide_index=True,
        width="stretch",
    )
