"""Reading a film table's raw cells from CSV or Parquet: delimiter, header and row-shape checks."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

# How many example rows each problem lists in the log and the report.
_EXAMPLES = 5


class TableError(ValueError):
    """A table that cannot be read; the message names the file, row and field."""


DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a CSV from its header line: the most frequent of , ; tab | outside quotes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def delimiter_name(delimiter: str) -> str:
    """'semicolon (;)' for error messages."""
    return f"{DELIMITERS.get(delimiter, 'custom')} ({delimiter!r})"


def check_headers(path: Path | str, header: list[str], how: str) -> None:
    seen: dict[str, int] = {}
    for i, h in enumerate(header, 1):
        if h in seen:
            raise TableError(
                f"{path}: the header repeats column {h!r} (columns {seen[h]} and {i}{how}); "
                "rename one so it is clear which holds what"
            )
        seen[h] = i


def _oversize(path: Path | str, where: list[tuple[int, str, int]], limit: int, skip: bool) -> None:
    if where and not skip:
        detail = "; ".join(f"line {ln}, column {c!r}: {n:,} characters" for ln, c, n in where[:_EXAMPLES])
        raise TableError(
            f"{path}: {len(where)} cell(s) longer than data.max_cell_chars = {limit:,}: {detail}. "
            "Shorten them, raise the limit (--set data.max_cell_chars=N) or pass --skip-bad-rows"
        )


def _read_parquet(path: Path, skip_bad_rows: bool, max_cell_chars: int):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        names = [str(n) for n in pq.read_schema(path).names]
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise TableError(f"{path}: not a readable Parquet file: {e}") from e
    check_headers(path, names, "")
    try:
        table = pq.read_table(path)
    except Exception as e:
        raise TableError(f"{path}: not a readable Parquet file: {e}") from e
    # Cell sizes are checked on the Arrow columns, before pandas makes a Python object of every cell.
    too_long: dict[int, tuple[str, int]] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if not _is_text_type(t):
            continue
        lengths = pc.utf8_length(col) if "string" in str(t) else pc.binary_length(col)
        if (pc.max(lengths).as_py() or 0) <= max_cell_chars:
            continue
        for row in pc.indices_nonzero(pc.greater(lengths, max_cell_chars)).to_pylist():
            too_long.setdefault(row, (str(name), lengths[row].as_py()))
    where = [(row + 1, c, n) for row, (c, n) in sorted(too_long.items())]
    _oversize(path, where, max_cell_chars, skip_bad_rows)
    if too_long:
        keep = [i for i in range(table.num_rows) if i not in too_long]
        table = table.take(keep)
    else:
        keep = list(range(table.num_rows))
    df = table.to_pandas().reset_index(drop=True)
    df.attrs["delimiter"] = None
    df.attrs["oversize_lines"] = [ln for ln, _, _ in where]
    return df, [i + 1 for i in keep], []


def _is_text_type(t) -> bool:
    """True for Arrow string and binary types (the ones whose cells can be huge)."""
    import pyarrow as pa

    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    )


def physical_lines(text: str) -> list[str]:
    """The text's lines, split on \\n only (a \\r\\n ending stays whole)."""
    # str.splitlines also breaks at U+2028, U+0085 and form feeds: inside a cell they are text, and
    # splitting there would cut the row and shift every later line number.
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def decode_binary_cells(df: pd.DataFrame, source: str, lines: list[int]) -> None:
    """Decode bytes cells (a binary Parquet column) as UTF-8 text in place; TableError when not UTF-8."""
    for name in df.columns:
        col = df[name]
        if col.dtype != object:
            continue
        is_bytes = col.map(lambda v: isinstance(v, (bytes, bytearray, memoryview)))
        if not is_bytes.any():
            continue
        decoded = col.copy()
        for i in is_bytes[is_bytes].index:
            try:
                decoded.at[i] = bytes(col.at[i]).decode("utf-8")
            except UnicodeDecodeError as e:
                raise TableError(
                    f"{source}: line {lines[i]}, column {name!r}: binary cell is not UTF-8 text "
                    f"(byte {e.start}); store the column as UTF-8 text"
                ) from None
        df[name] = decoded


def read_raw(
    path: str | Path, skip_bad_rows: bool = False, max_cell_chars: int = 100_000
) -> tuple[pd.DataFrame, list[int], list[int]]:
    """Read CSV/Parquet into a frame of source columns; returns (frame, line numbers, skipped lines).

    The CSV delimiter is detected from the header (comma, semicolon, tab or pipe) and kept in
    `frame.attrs["delimiter"]`; every error names it.
    """
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, skip_bad_rows, max_cell_chars)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise TableError(f"{path}: unsupported table format {suffix!r}; use .csv, .tsv or .parquet")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TableError(f"{path}: not UTF-8 text (byte {e.start}); re-save the table as UTF-8") from e
    delimiter = "\t" if suffix == ".tsv" else detect_delimiter(text.split("\n", 1)[0])
    how = f", read as {delimiter_name(delimiter)}-separated"
    # The whole file is already in memory, so csv's own field limit guards nothing; cells are
    # measured below against data.max_cell_chars instead.
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, len(text) + 1))
    try:
        header, rows, lines, bad, too_long = _csv_rows(path, text, delimiter, how, max_cell_chars)
    finally:
        csv.field_size_limit(old_limit)
    if bad and not skip_bad_rows:
        detail = "; ".join(f"line {ln} has {n} fields" for ln, n in bad[:_EXAMPLES])
        raise TableError(
            f"{path}: {len(bad)} malformed row(s), the header has {len(header)} fields{how}: {detail}. "
            "Fix the rows or pass --skip-bad-rows to drop them."
        )
    _oversize(path, too_long, max_cell_chars, skip_bad_rows)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.attrs["delimiter"] = delimiter
    df.attrs["oversize_lines"] = [ln for ln, _, _ in too_long]
    return df, lines, [ln for ln, _ in bad]


def _csv_rows(path: Path, text: str, delimiter: str, how: str, max_cell_chars: int) -> tuple:
    """(header, rows, their lines, (line, fields) of malformed rows, (line, column, size) of oversize)."""
    reader = csv.reader(physical_lines(text), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise TableError(f"{path}: the file is empty") from None
    check_headers(path, header, how)
    rows, lines, bad, too_long = [], [], [], []
    line_start = reader.line_num + 1
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                line_start = reader.line_num + 1
                continue
            long_cells = [
                (h, len(f)) for h, f in zip(header, fields, strict=False) if len(f) > max_cell_chars
            ]
            if len(fields) != len(header):
                bad.append((line_start, len(fields)))
            elif long_cells:
                too_long.append((line_start, *long_cells[0]))
            else:
                rows.append(fields)
                lines.append(line_start)
            line_start = reader.line_num + 1
    except csv.Error as e:
        raise TableError(f"{path}: line {reader.line_num}: malformed CSV{how}: {e}") from e
    return header, rows, lines, bad, too_long
