"""The visit brief (拜访简报): one printable PDF page per customer, alone or for a manager's list.

Charts are drawn with the PDF's own lines and boxes, so a brief needs nothing beyond fpdf2 and a
font. Chinese text needs a CJK font: the first one found of :data:`CJK_FONTS` (``make`` installs
Debian's WenQuanYi Micro Hei). Without one the brief is written in English with a Latin font and
personal names that cannot be drawn are shown by their customer id, so a batch never fails on a
machine without CJK fonts.
"""

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from fpdf import FPDF

from core import access, customer360, i18n, tags, tariffs
from core.store import schema

# Searched in order; the environment variable names a font file of the operator's choice.
CJK_FONT_ENV = "WORKBENCH_PDF_FONT"
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# What of the history fits the one-page brief: a year of monthly use and the latest bills.
BRIEF_MONTHS = 12
BRIEF_BILLS = 6
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
# A brief batch for one manager is capped so a mistyped id cannot fill a disk.
MAX_BATCH = 2000
# Helvetica has only Latin-1: the punctuation the catalogs use, in its nearest Latin-1 form.
LATIN_SUBSTITUTES = str.maketrans({"—": "-", "≈": "~", "“": '"', "”": '"', "’": "'"})
BAR_COLOUR = (31, 119, 180)
# The tariff periods in their one palette (tariffs.PERIOD_COLOURS), as red, green and blue.
PERIOD_COLOURS = {
    period: tuple(int(colour[start : start + 2], 16) for start in (1, 3, 5))
    for period, colour in tariffs.PERIOD_COLOURS.items()
}


@dataclass(frozen=True)
class BriefFont:
    """The font a brief is written in.

    Attributes:
        path: the font file, or None for the PDF core font Helvetica.
        cjk: whether it draws Chinese.
    """

    path: str | None
    cjk: bool


def find_font() -> BriefFont:
    """The best font on this machine: a CJK font, else a Unicode Latin font, else Helvetica."""
    chosen = os.environ.get(CJK_FONT_ENV)
    for candidate in ((chosen,) if chosen else ()) + CJK_FONTS:
        if Path(candidate).is_file():
            return BriefFont(candidate, True)
    for candidate in LATIN_FONTS:
        if Path(candidate).is_file():
            return BriefFont(candidate, False)
    return BriefFont(None, False)


class _Brief(FPDF):
    def __init__(self, font: BriefFont) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.brief_font = font
        self.set_auto_page_break(auto=False)
        self.set_margins(12, 12, 12)
        if font.path is not None:
            collection = {"collection_font_number": 0} if font.path.endswith(".ttc") else {}
            # One face: loading a CJK font costs most of a brief's time, so headings are set
            # apart by size and colour rather than by a second, bold face.
            self.add_font("brief", "", font.path, **collection)
            self.family_name = "brief"
        else:
            self.family_name = "helvetica"

    def text_of(self, text: str) -> str:
        if self.brief_font.path is None:
            text = text.translate(LATIN_SUBSTITUTES)
            return text.encode("latin-1", "replace").decode("latin-1")
        return text

    def style(self, size: float, bold: bool = False) -> None:
        bold_face = bold and self.brief_font.path is None
        self.set_font(self.family_name, "B" if bold_face else "", size)

    def line_text(self, text: str, size: float = 9, bold: bool = False, height: float = 5) -> None:
        self.style(size, bold)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(1.5)
        self.style(11, True)
        self.set_text_color(31, 60, 110)
        self.cell(0, 6, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(31, 60, 110)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_text_color(0, 0, 0)
        self.ln(1)


def _language_for(font: BriefFont, language: str) -> str:
    return language if font.cjk else "en"


def render(
    dossier: customer360.Dossier,
    viewer: access.Viewer,
    language: str = "zh",
    font: BriefFont | None = None,
) -> bytes:
    """One customer's visit brief as PDF bytes, drawn from the dossier the page shows.

    Args:
        dossier: the customer's dossier (:func:`core.customer360.dossier`), read for ``viewer``.
        viewer: who prepares the visit (named on the brief).
        language: ``zh`` or ``en``; English when no CJK font is available.
        font: the font to use; :func:`find_font` by default.

    Returns:
        A one-page PDF.
    """
    font = font or find_font()
    language = _language_for(font, language)

    def t(key: str, **values: object) -> str:
        return i18n.translate(key, language, **values)

    record, row, hits = dossier.record, dossier.features, dossier.tags
    views, bill_frame, actions = dossier.load, dossier.bills, dossier.actions
    customer_id = dossier.customer_id

    pdf = _Brief(font)
    pdf.add_page()
    name = record["name"] if font.cjk else customer_id
    pdf.line_text(f"{t('customer360.brief_pdf.title')} · {name} ({customer_id})", 15, True, 8)
    manager = viewer.user_name if viewer.manager_id is None else viewer.manager_id
    pdf.line_text(
        t("customer360.brief_pdf.generated", date=f"{dt.date.today():%Y-%m-%d}", manager=manager), 8
    )

    pdf.heading(t("customer360.brief_pdf.essentials"))
    tariff = record["tariff_name_zh"] if language == "zh" else record["tariff_name"]
    region = customer360.archive_text("region", record["region"], language)
    essentials = [
        (
            t("customer360.field.customer_class"),
            customer360.archive_text("customer_class", record["customer_class"], language),
        ),
        (
            t("customer360.field.industry"),
            customer360.archive_text("industry", record.get("industry"), language),
        ),
        (
            t("customer360.field.region"),
            f"{region} · {record.get('transformer_area') or '—'}",
        ),
        (t("customer360.field.tariff"), tariff),
        (
            t("customer360.field.contract_capacity_kva"),
            _number(record.get("contract_capacity_kva"), t("domain.unit.kva")),
        ),
        (
            t("customer360.field.voltage_kv"),
            _number(record.get("voltage_kv"), t("domain.unit.kv"), 2),
        ),
        (t("customer360.field.phone"), record.get("phone") or "—"),
        (
            t("customer360.field.open_date"),
            f"{record['open_date']}" if record.get("open_date") else "—",
        ),
    ]
    if not font.cjk:
        essentials = [(label, value if value.isascii() else "—") for label, value in essentials]
    _two_columns(pdf, essentials)

    pdf.heading(t("customer360.brief_pdf.tags"))
    if hits:
        pdf.line_text(" · ".join(tags.tag_name(hit.rule, language) for hit in hits), 9)
        for hit in hits[:6]:
            pdf.line_text(f"- {tags.reason(hit, language)}", 7.5, height=4)
    else:
        pdf.line_text(t("customer360.no_tags"), 9)

    pdf.heading(t("customer360.brief_pdf.load"))
    if row is not None and row.get("annual_kwh") is not None:
        pdf.line_text(
            t("customer360.brief_pdf.annual_kwh", value=f"{row['annual_kwh']:,.0f}")
            + "    "
            + t(
                "customer360.brief_pdf.annual_revenue",
                value=f"{row.get('annual_revenue_cny') or 0:,.0f}",
            ),
            9,
        )
        pdf.line_text(
            t(
                "customer360.brief_pdf.max_demand",
                value=f"{row.get('max_demand_kw') or 0:,.1f}",
                load_factor=f"{row.get('load_factor') or 0:.0%}",
            ),
            9,
        )
    if views is None:
        pdf.line_text(t("customer360.brief_pdf.no_readings"), 9)
    else:
        top = pdf.get_y() + 1
        monthly = views["monthly"].tail(BRIEF_MONTHS)
        _bar_chart(
            pdf,
            monthly,
            12,
            top,
            118,
            42,
            t("customer360.brief_pdf.monthly"),
            t("customer360.brief_pdf.highest"),
        )
        _tou_bar(pdf, customer360.tou_split(row), 136, top, 62, 42, t, language)
        pdf.set_y(top + 46)

    pdf.heading(t("customer360.brief_pdf.bills"))
    if dossier.standing is not None:
        pdf.line_text(
            t(
                "customer360.brief_pdf.arrears",
                amount=f"{dossier.standing.arrears_cny:,.2f}",
                late=dossier.standing.late_bills,
            ),
            9,
        )
    _bill_table(pdf, bill_frame.head(BRIEF_BILLS), t)

    pdf.heading(t("customer360.brief_pdf.service"))
    if row is not None:
        pdf.line_text(
            t(
                "customer360.brief_pdf.complaints",
                complaints=int(row.get("complaints") or 0),
                outages=int(row.get("outages") or 0),
            ),
            9,
        )
        channel = row.get("preferred_channel")
        if channel:
            label = i18n.translate(f"customer360.channel.{channel}", language)
            pdf.line_text(t("customer360.brief_pdf.preferred_channel", channel=label), 9)

    pdf.heading(t("customer360.brief_pdf.talking_points"))
    if actions:
        for number, action in enumerate(actions[:6], start=1):
            pdf.line_text(f"{number}. {customer360.describe(action, language)}", 9)
    else:
        pdf.line_text(t("customer360.brief_pdf.no_points"), 9)
    return bytes(pdf.output())


def _number(value, unit: str, decimals: int = 0) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):,.{decimals}f} {unit}"


def _two_columns(pdf: _Brief, pairs: list[tuple[str, str]]) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    for index in range(0, len(pairs), 2):
        for label, value in pairs[index : index + 2]:
            pdf.style(8, True)
            pdf.cell(28, 5, pdf.text_of(label))
            pdf.style(9)
            pdf.cell(width - 28, 5, pdf.text_of(str(value))[:60])
        pdf.ln(5)


def _bar_chart(
    pdf: _Brief,
    monthly: pd.DataFrame,
    x: float,
    y: float,
    width: float,
    height: float,
    title: str,
    peak_label: str,
) -> None:
    pdf.style(8, True)
    pdf.set_xy(x, y)
    pdf.cell(width, 4, pdf.text_of(title))
    if monthly.empty:
        return
    chart_top, chart_height = y + 6, height - 12
    peak = max(float(monthly["kwh"].max()), 1e-9)
    slot = width / len(monthly)
    pdf.set_fill_color(*BAR_COLOUR)
    pdf.style(6)
    for position, item in enumerate(monthly.itertuples(index=False)):
        bar = chart_height * max(float(item.kwh), 0.0) / peak
        left = x + position * slot + slot * 0.15
        pdf.rect(left, chart_top + chart_height - bar, slot * 0.7, bar, style="F")
        pdf.set_xy(x + position * slot, chart_top + chart_height + 0.5)
        pdf.cell(slot, 3, f"{int(item.month):02d}", align="C")
    pdf.set_xy(x, chart_top - 1)
    pdf.cell(width, 3, pdf.text_of(f"{peak_label} {peak:,.0f}"), align="R")


def _tou_bar(
    pdf: _Brief,
    split: pd.DataFrame,
    x: float,
    y: float,
    width: float,
    height: float,
    t,
    language: str,
) -> None:
    pdf.style(8, True)
    pdf.set_xy(x, y)
    pdf.cell(width, 4, pdf.text_of(t("customer360.brief_pdf.tou")))
    if split.empty:
        return
    left, top = x, y + 7
    for item in split.itertuples(index=False):
        share = max(float(item.share), 0.0)
        pdf.set_fill_color(*PERIOD_COLOURS[item.period])
        pdf.rect(left, top, width * share, 8, style="F")
        left += width * share
    pdf.style(7)
    line = top + 11
    for item in split.itertuples(index=False):
        if float(item.share) <= 0:
            continue
        pdf.set_fill_color(*PERIOD_COLOURS[item.period])
        pdf.rect(x, line + 0.8, 3, 3, style="F")
        pdf.set_xy(x + 4, line)
        label = i18n.translate(f"domain.period.{item.period}", language)
        pdf.cell(
            width - 4,
            4.5,
            pdf.text_of(
                f"{label}  {float(item.share):.0%}  {float(item.kwh):,.0f} "
                + i18n.translate("domain.unit.kwh", language)
            ),
        )
        line += 5


def _bill_table(pdf: _Brief, frame: pd.DataFrame, t) -> None:
    if frame.empty:
        pdf.line_text(t("customer360.no_bills"), 9)
        return
    columns = (
        ("period", 22),
        ("kwh_total", 28),
        ("amount_cny", 30),
        ("due_date", 28),
        ("paid_date", 28),
        ("status", 30),
    )
    pdf.style(7.5, True)
    for name, width in columns:
        pdf.cell(width, 4.5, pdf.text_of(t(f"customer360.column.{name}")), border="B")
    pdf.ln(4.5)
    pdf.style(7.5)
    for item in frame.itertuples(index=False):
        values = {
            "period": item.period,
            "kwh_total": f"{item.kwh_total:,.0f}",
            "amount_cny": f"{item.amount_cny:,.2f}",
            "due_date": f"{item.due_date}" if item.due_date is not None else "—",
            "paid_date": f"{item.paid_date}" if pd.notna(item.paid_date) else "—",
            "status": t(f"customer360.status.{item.status}"),
        }
        for name, width in columns:
            pdf.cell(width, 4.2, pdf.text_of(str(values[name])))
        pdf.ln(4.2)


def manager_customers(engine: sa.Engine, viewer: access.Viewer, manager_id: str) -> list[str]:
    """The customer ids assigned to a customer manager, within the viewer's scope.

    Args:
        engine: the store.
        viewer: who is asking; only customers in their scope are listed.
        manager_id: the customer manager's id, as in ``customers.manager_id``.

    Returns:
        The customer ids in id order.

    Raises:
        ValueError: the manager has no customers the viewer may see, or more than
            :data:`MAX_BATCH`.
    """
    customers = schema.customers
    with engine.connect() as conn:
        ids = (
            conn.execute(
                sa.select(customers.c.customer_id)
                .where(customers.c.manager_id == manager_id, access.customer_scope(viewer))
                .order_by(customers.c.customer_id)
                .limit(MAX_BATCH + 1)
            )
            .scalars()
            .all()
        )
    if not ids:
        raise ValueError(f"manager {manager_id} has no customers you may see: check the manager id")
    if len(ids) > MAX_BATCH:
        raise ValueError(
            f"manager {manager_id} has more than {MAX_BATCH} customers: brief a smaller list"
        )
    return list(ids)


def write_batch(
    engine: sa.Engine,
    viewer: access.Viewer,
    manager_id: str,
    out_dir: Path,
    language: str = "zh",
    progress=None,
) -> list[Path]:
    """Writes one brief per customer of a manager into ``out_dir`` as ``<customer_id>.pdf``.

    Args:
        engine: the store.
        viewer: who runs the batch.
        manager_id: the customer manager whose list is briefed.
        out_dir: the folder; created if missing.
        language: ``zh`` or ``en``.
        progress: called with (done, total) after each brief.

    Returns:
        The files written.

    Raises:
        ValueError: the manager has no visible customers, or too many.
    """
    ids = manager_customers(engine, viewer, manager_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    font = find_font()
    written = []
    for done, customer_id in enumerate(ids, start=1):
        found = customer360.dossier(engine, viewer, customer_id)
        if found is None:
            # Closed or moved out of scope since the list was read: nothing to brief.
            continue
        path = out_dir / f"{customer_id}.pdf"
        path.write_bytes(render(found, viewer, language, font))
        written.append(path)
        if progress is not None:
            progress(done, len(ids))
    return written
