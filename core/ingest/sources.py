"""The one reader of tabular files: CSV, Excel (.xlsx) and Parquet, in chunks.

CSV may be UTF-8, GBK/GB18030 or Latin-1, comma or tab separated; its cells are read as text.
Parquet and Excel keep their typed values.

The import, the tariff page's load upload, the forecast page and the command lines all read
files through :func:`open_source`. The text encoding is decided on the whole file, not on its
first block: a UTF-8 file with a bad byte deep inside is reported with the line of that byte,
and Latin-1 text that happens to decode as GB18030 is told apart from Chinese by what it decodes
to.
"""

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from core.errors import UserError

# Rows validated and staged at a time: bounds memory for multi-GB files while keeping the
# per-chunk overhead (one bulk insert, one round of vectorised checks) small.
CHUNK_ROWS = 500_000
# Bytes pyarrow parses per CSV block; a block of hourly readings is roughly 400,000 rows.
CSV_BLOCK_BYTES = 16 << 20
# Bytes read at a time while the encoding is decided over the whole file.
ENCODING_BLOCK_BYTES = 16 << 20
# Bytes read to find the delimiter and the header, and to estimate the rows of a CSV file.
SNIFF_BYTES = 1 << 16
# Chinese text encoded as GB18030 is nearly all characters of GB2312's common set; Latin-1 bytes
# read as GB18030 give rare characters instead (Müller → M黮ler). Below this share of common
# characters the file is taken for Latin-1.
GB2312_SHARE = 0.9
# Bytes of valid multi-byte UTF-8 before a bad byte that make the file a UTF-8 file with a bad
# byte, rather than a file in another encoding (about eight Chinese characters).
UTF8_EVIDENCE_BYTES = 16
SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    "": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
}


@dataclass
class Chunk:
    """Consecutive rows of a file.

    Attributes:
        first_row: the row number of the first row (CSV and Excel: the line or sheet row, the
            header being row 1; Parquet: 1 for the first row).
        frame: the rows, one column per header.
        row_numbers: each row's number, when rows were skipped (blank or malformed lines).
    """

    first_row: int
    frame: pd.DataFrame
    row_numbers: np.ndarray | None = None

    def numbers(self) -> np.ndarray:
        """Each row's number in the file."""
        if self.row_numbers is not None:
            return self.row_numbers
        return np.arange(self.first_row, self.first_row + len(self.frame), dtype=np.int64)


class MalformedRows(Exception):
    """The fast CSV reader met rows with the wrong number of fields; the exact reader takes over."""


@dataclass
class Source:
    """A file opened for reading.

    Attributes:
        file_name: the name used in messages.
        headers: the header row, in file order.
        encoding: the text encoding read (``utf-8``, ``gb18030``, ``latin-1``), or ``xlsx`` or
            ``parquet`` for binary files.
        estimated_rows: the data rows the file holds, exact for Parquet, estimated from the
            first lines for CSV, from the sheet's stated size for Excel (0: unknown).
        chunks: a function that yields the file's rows chunk by chunk, from the start each call.
        malformed: rows the exact CSV reader skipped: (line, the raw row).
        exact: read with the exact, line-numbering reader (set when the fast one gave up).
        parquet: Parquet files keep their typed columns, which the store can check itself.
        arrow_batches: record batches of the named columns, text dictionary-encoded (Parquet).
    """

    file_name: str
    headers: list[str]
    encoding: str
    estimated_rows: int
    chunks: Callable[[], Iterator[Chunk]]
    malformed: list[tuple[int | None, str]] = field(default_factory=list)
    exact: bool = False
    parquet: pq.ParquetFile | None = None
    arrow_batches: Callable[[list[str], int], Iterator[pa.RecordBatch]] | None = None


def file_label(source: str | Path | BinaryIO, file_name: str | None = None) -> str:
    """The name a file is called by in messages: the given name, the path's, or ``upload``."""
    if file_name:
        return file_name
    if isinstance(source, str | Path):
        return Path(source).name
    return Path(str(getattr(source, "name", "upload"))).name


def open_binary(source: str | Path | BinaryIO, file_name: str) -> BinaryIO:
    """A binary handle on a path or an upload, positioned at the start.

    Raises:
        UserError: the path is not a file.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise UserError("ingest.error.no_file", file_name=str(path))
        return path.open("rb")
    source.seek(0)
    return source


def open_source(handle: BinaryIO, file_name: str, chunk_rows: int = CHUNK_ROWS) -> Source:
    """Opens a file by its name's extension and reads its header.

    Args:
        handle: the file's bytes.
        file_name: the name, which decides the format.
        chunk_rows: rows per chunk.

    Returns:
        The source, ready to yield chunks.

    Raises:
        UserError: the type is not supported, or the file cannot be read at all.
    """
    suffix = Path(file_name).suffix.lower()
    kind = SUFFIXES.get(suffix)
    if kind == "parquet":
        return _parquet_source(handle, file_name, chunk_rows)
    if kind == "xlsx":
        return _excel_source(handle, file_name, chunk_rows)
    if kind == "csv":
        return _csv_source(handle, file_name, chunk_rows)
    raise UserError("ingest.error.file_type", file_name=file_name, suffix=suffix)


def _size(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size


def _common_share(text: str) -> float:
    """The share of distinct non-ASCII characters in GB2312's set (1.0 for none)."""
    others = {character for character in set(text) if ord(character) > 127}
    if not others:
        return 1.0
    common = 0
    for character in others:
        try:
            character.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(others)


def _decodes(handle: BinaryIO, encoding: str) -> tuple[bool, float]:
    """Whether the whole file decodes, and the share of common Chinese among its characters."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    others: set[str] = set()
    try:
        while block := handle.read(ENCODING_BLOCK_BYTES):
            if block.isascii():
                continue
            others.update(decoder.decode(block, final=False))
        others.update(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False, 0.0
    return True, _common_share("".join(others))


def detect_encoding(handle: BinaryIO, file_name: str) -> str:
    """The text encoding of the whole file.

    UTF-8 (with or without a byte-order mark) when every byte decodes as UTF-8; otherwise
    GB18030 (a superset of GBK and GB2312) when the file decodes as that into common Chinese
    characters; otherwise Windows-1252 or Latin-1 when it decodes as that.

    Raises:
        UserError: a UTF-8 file with a byte that is not UTF-8 (naming its line), or a file
            that is no text this reader knows.
    """
    handle.seek(0)
    head = handle.read(SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        if not _decodes(handle, "utf-16")[0]:
            raise UserError("ingest.error.not_text", file_name=file_name, line=1)
        return "utf-16"
    if b"\x00" in head:
        line = head.count(b"\n", 0, head.index(b"\x00")) + 1
        raise UserError("ingest.error.not_text", file_name=file_name, line=line)
    bom = head.startswith(codecs.BOM_UTF8)
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, evidence = 0, 0
    while block := handle.read(ENCODING_BLOCK_BYTES):
        if not block.isascii():
            try:
                evidence += len(block) - len(decoder.decode(block, final=False))
            except UnicodeDecodeError as error:
                good = block[: error.start]
                evidence += len(good) - len(good.decode("utf-8", errors="ignore"))
                line = lines + block.count(b"\n", 0, error.start) + 1
                if bom or evidence >= UTF8_EVIDENCE_BYTES:
                    raise UserError(
                        "ingest.error.bad_utf8",
                        file_name=file_name,
                        line=line,
                        byte=f"0x{block[error.start]:02X}",
                    ) from None
                return _not_utf8(handle)
        lines += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UserError(
            "ingest.error.bad_utf8", file_name=file_name, line=lines + 1, byte="…"
        ) from None
    return "utf-8-sig" if bom else "utf-8"


def _not_utf8(handle: BinaryIO) -> str:
    decodes, common = _decodes(handle, "gb18030")
    if decodes and common >= GB2312_SHARE:
        return "gb18030"
    if _decodes(handle, "cp1252")[0]:
        return "cp1252"
    # Latin-1 gives every byte a character: what is left of European text.
    return "latin-1"


def _csv_source(handle: BinaryIO, file_name: str, chunk_rows: int) -> Source:
    head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise UserError("ingest.error.empty", file_name=file_name)
    encoding = detect_encoding(handle, file_name)
    text = head.decode(encoding, errors="ignore")
    lines = text.splitlines()
    first_line = lines[0] if lines else ""
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    headers = [header.strip() for header in next(csv.reader([first_line], delimiter=delimiter))]
    if len(headers) < 2:
        raise UserError("ingest.error.one_column", file_name=file_name)
    # The first lines' length estimates the rows; the last of them may be cut off.
    sampled = max(len(lines) - 2, 1)
    sampled_bytes = max(len(text.encode(encoding, errors="ignore")) - len(first_line), 1)
    estimated = int((_size(handle) - len(first_line)) * sampled / sampled_bytes)
    source = Source(
        file_name=file_name,
        headers=headers,
        encoding=encoding,
        estimated_rows=max(estimated, 1),
        chunks=lambda: iter(()),
    )
    convert = pa_csv.ConvertOptions(
        column_types={header: pa.string() for header in headers},
        # Only an empty cell is empty: "nan", "NULL" or "N/A" in a file are values to check.
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding

    def fast_chunks() -> Iterator[Chunk]:
        handle.seek(0)
        # Any parse problem (a row with too many or too few fields, a blank line) hands the file
        # to the exact reader, which reports such rows with their line numbers.
        try:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(
                    column_names=headers,
                    skip_rows=1,
                    encoding=arrow_encoding,
                    block_size=CSV_BLOCK_BYTES,
                ),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False),
                convert_options=convert,
            )
        except pa.ArrowInvalid as error:
            raise MalformedRows from error
        next_row = 2
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as error:
                raise MalformedRows from error
            for start in range(0, batch.num_rows, chunk_rows):
                part = batch.slice(start, chunk_rows)
                yield Chunk(next_row, part.to_pandas())
                next_row += part.num_rows

    def exact_chunks() -> Iterator[Chunk]:
        handle.seek(0)
        wrapper = io.TextIOWrapper(handle, encoding=encoding, newline="")
        try:
            reader = csv.reader(wrapper, delimiter=delimiter)
            next(reader)
            rows: list[list[str]] = []
            numbers: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(headers):
                    source.malformed.append((reader.line_num, delimiter.join(row)))
                    continue
                rows.append(row)
                numbers.append(reader.line_num)
                if len(rows) >= chunk_rows:
                    yield _exact_chunk(rows, numbers, headers)
                    rows, numbers = [], []
            if rows:
                yield _exact_chunk(rows, numbers, headers)
        finally:
            wrapper.detach()

    def chunks() -> Iterator[Chunk]:
        if source.exact:
            yield from exact_chunks()
        else:
            yield from fast_chunks()

    source.chunks = chunks
    return source


def _exact_chunk(rows: list[list[str]], numbers: list[int], headers: list[str]) -> Chunk:
    frame = pd.DataFrame(rows, columns=headers, dtype="str")
    # The exact reader keeps empty cells as empty text; the checks take missing for empty.
    frame = frame.where(frame.apply(lambda column: column.str.strip() != ""))
    return Chunk(numbers[0], frame, np.asarray(numbers, dtype=np.int64))


def _parquet_source(handle: BinaryIO, file_name: str, chunk_rows: int) -> Source:
    try:
        parquet = pq.ParquetFile(handle)
    except (pa.ArrowInvalid, OSError) as error:
        raise UserError(
            "ingest.error.not_parquet", file_name=file_name, error=str(error)
        ) from error
    headers = list(parquet.schema_arrow.names)

    def chunks() -> Iterator[Chunk]:
        next_row = 1
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield Chunk(next_row, batch.to_pandas())
            next_row += batch.num_rows

    def arrow_batches(columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        # Ids repeat on every reading: decoding them as a dictionary skips building millions of
        # strings, which costs more than everything else the import does with a chunk.
        text = [
            name
            for name in columns
            if pa.types.is_string(parquet.schema_arrow.field(name).type)
            or pa.types.is_large_string(parquet.schema_arrow.field(name).type)
        ]
        dictionary = pq.ParquetFile(handle, read_dictionary=text)
        yield from dictionary.iter_batches(batch_size=batch_rows, columns=columns)

    return Source(
        file_name=file_name,
        headers=headers,
        encoding="parquet",
        estimated_rows=parquet.metadata.num_rows,
        chunks=chunks,
        parquet=parquet,
        arrow_batches=arrow_batches,
    )


def _excel_source(handle: BinaryIO, file_name: str, chunk_rows: int) -> Source:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows)
    except StopIteration:
        raise UserError("ingest.error.empty", file_name=file_name) from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
        # A truncated or renamed file: openpyxl says so in terms of zip archives and XML parts.
        raise UserError("ingest.error.not_excel", file_name=file_name) from error
    headers = [str(value).strip() if value is not None else "" for value in header_row]
    while headers and headers[-1] == "":
        headers.pop()
    if not headers:
        raise UserError("ingest.error.empty", file_name=file_name)
    # A sheet states its size; the header is one of its rows.
    estimated = max((sheet.max_row or 1) - 1, 0)

    def chunks() -> Iterator[Chunk]:
        block: list[tuple] = []
        numbers: list[int] = []
        try:
            for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
                values = tuple(row[: len(headers)])
                if all(value is None or str(value).strip() == "" for value in values):
                    continue
                block.append(values + (None,) * (len(headers) - len(values)))
                numbers.append(number)
                if len(block) >= chunk_rows:
                    yield _excel_chunk(block, numbers, headers)
                    block, numbers = [], []
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise UserError("ingest.error.not_excel", file_name=file_name) from error
        if block:
            yield _excel_chunk(block, numbers, headers)

    return Source(
        file_name=file_name,
        headers=headers,
        encoding="xlsx",
        estimated_rows=estimated,
        chunks=chunks,
    )


def _excel_chunk(block: list[tuple], numbers: list[int], headers: list[str]) -> Chunk:
    frame = pd.DataFrame(block, columns=headers, dtype=object)
    return Chunk(numbers[0], frame, np.asarray(numbers))
