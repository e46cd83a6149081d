"""Pandera validation of large frames at the transforms' boundaries, affordable at millions of rows.

Every transform validates its inputs and outputs with a pandera schema. In full, that cost more than the
replenishment itself at 5 million lines (docs/replenishment.md), so large frames are checked by columns,
dtypes, nulls and uniqueness on every row and by the schema's value checks on a sample.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import pandera.pandas as pa

#: Frames up to this many rows are validated in full; larger ones by columns, dtypes and nulls on every
#: row, and the schema's value checks on the first :data:`VALIDATION_SAMPLE_ROWS` rows (see
#: docs/replenishment.md: full validation cost more than the transform itself at 5 million lines).
FULL_VALIDATION_ROWS = 100_000
VALIDATION_SAMPLE_ROWS = 10_000


def validate_frame(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, *, null_free: Collection[str] = ()
) -> pd.DataFrame:
    """``schema.validate(frame)``, in full for small frames, by sample for the value checks of large ones.

    A large frame is still refused for a missing column, a value that does not coerce to the column's
    dtype, or a null in a column that takes none (every row); only the value checks (``ge(0)``, the
    frame-wide checks) run on a sample of rows. ``null_free`` names columns the caller has already seen
    whole without a null (a factorisation without code -1): they are not scanned again.
    """
    if len(frame) <= FULL_VALIDATION_ROWS:
        return schema.validate(frame)
    sample = frame.head(VALIDATION_SAMPLE_ROWS)
    # a head keeps all of a categorical's labels, and pandera walks every one of them: only the sample's
    trimmed = {
        str(n): sample[n].cat.remove_unused_categories() for n in sample if sample[n].dtype == "category"
    }
    schema.validate(sample.assign(**trimmed) if trimmed else sample)  # columns, dtypes, checks: same errors
    wanted = {name: column.dtype.type for name, column in schema.columns.items()}
    changed = {name: dtype for name, dtype in wanted.items() if frame[name].dtype != dtype}
    frame = frame.astype(changed) if changed else frame
    for name, column in schema.columns.items():
        if not column.nullable and name not in null_free and frame[name].isna().any():
            return schema.validate(frame)  # the full validation's report of the nulls
        if column.unique and frame[name].duplicated().any():
            return schema.validate(frame)
    return frame
