"""rnncast's Python client: long-format pandas DataFrames in and out over HTTP.

```python
from app.client import Client

with Client("http://127.0.0.1:8000") as client:
    forecasts = client.forecast(df, h=24, level=[80, 95])   # df: unique_id, ds, y
```

Needs the ``client`` extra (httpx, pandas, pyarrow); imports nothing else of ``app``,
so it could ship as a distribution of its own.
"""

from app.client.client import DEFAULT_URL, AsyncClient, Backtest, Client
from app.client.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    ProblemError,
    RnncastError,
    ServerError,
)
from app.client.frames import ServerLimits

__all__ = [
    "DEFAULT_URL", "AsyncClient", "AuthenticationError", "Backtest", "BadRequestError", "Client",
    "InvalidRequestError", "NotFoundError", "OverloadedError", "PayloadTooLargeError", "ProblemError",
    "RnncastError", "ServerError", "ServerLimits",
]
