"""The long forms over HTTP: JSON rows, CSV and Parquet in; rows out by Accept; backtests,
anomalies and the advertised limits. In-process app with the small test model."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.factories import make_series

WINDOW = 100
PARQUET = "application/vnd.apache.parquet"


def frame(ids: tuple[str, ...] = ("a", "b"), n: int = WINDOW + 20, freq: str = "D") -> pd.DataFrame:
    parts = [pd.DataFrame({"unique_id": name, "ds": pd.date_range("2024-01-01", periods=n, freq=freq),
                           "y": make_series(n, seed=i)}) for i, name in enumerate(ids)]
    return pd.concat(parts, ignore_index=True)


def rows_of(df: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(df.assign(ds=df["ds"].dt.strftime("%Y-%m-%d")).to_json(orient="records"))


def csv_of(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, date_format="%Y-%m-%d")


def parquet_of(df: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    df.to_parquet(sink, index=False)
    return sink.getvalue()


def test_rows_get_the_series_forms_numbers_on_their_calendar(client: TestClient) -> None:
    df = frame()
    series = [{"id": name, "values": g["y"].tolist()} for name, g in df.groupby("unique_id", sort=False)]
    one = client.post("/v1/forecast", json={"rows": rows_of(df)})
    assert one.status_code == 200 and one.headers["content-type"] == "application/json"
    assert one.json()["rows"] == [
        {"unique_id": f["id"], "ds": "2024-04-30", "mean": f["value"]}
        for f in client.post("/v1/forecast", json={"series": series}).json()["forecasts"]
    ]
    options = {"horizon": 3, "level": [80], "quantiles": [0.1], "seed": 7, "num_samples": 30}
    rolled = client.post("/v1/forecast/rolling", json={"rows": rows_of(df), **options}).json()
    by_series = client.post("/v1/forecast/rolling", json={"series": series, **options}).json()["forecasts"]
    assert rolled["interval_method"] == "paths" and rolled["freq"] == ["D"] and rolled["filled"] == []
    for k, f in enumerate(by_series):
        got = rolled["rows"][3 * k : 3 * k + 3]
        assert [r["ds"] for r in got] == ["2024-04-30", "2024-05-01", "2024-05-02"]
        assert [r["mean"] for r in got] == f["mean"]
        assert [r["q-0.1"] for r in got] == f["quantiles"]["0.1"]
        assert [r["lo-80"] for r in got] == f["intervals"]["lo-80"] and [r["hi-80"] for r in got] == f["intervals"]["hi-80"]


def test_csv_and_parquet_bodies_answer_in_kind_or_as_accept_asks(client: TestClient) -> None:
    df = frame().sample(frac=1.0, random_state=1)  # unsorted rows are fine
    expected = client.post("/v1/forecast/rolling", json={"rows": rows_of(df), "horizon": 2}).json()["rows"]
    as_csv = client.post("/v1/forecast/rolling?horizon=2", content=csv_of(df), headers={"Content-Type": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(as_csv.text))
    assert table.to_dict("records") == pd.DataFrame(expected).astype({"mean": float}).to_dict("records")
    as_parquet = client.post("/v1/forecast/rolling?horizon=2", content=parquet_of(df),
                             headers={"Content-Type": PARQUET})
    assert as_parquet.headers["content-type"] == PARQUET
    answer = pd.read_parquet(io.BytesIO(as_parquet.content))
    assert answer["ds"].dt.strftime("%Y-%m-%d").tolist() == [r["ds"] for r in expected]
    assert answer["mean"].tolist() == pytest.approx([r["mean"] for r in expected], rel=1e-7)
    asked = client.post("/v1/forecast/rolling?horizon=2", content=parquet_of(df),
                        headers={"Content-Type": PARQUET, "Accept": "text/csv;q=0.5, application/json"})
    assert asked.json()["rows"] == expected
    meta = json.loads(asked.headers["x-rnncast-meta"])
    assert meta == {"model": {"name": "default", "version": "1"}, "interval_method": None, "freq": ["D"],
                    "fill": "linear", "filled": 0}


def test_unanswerable_accept_is_406(client: TestClient) -> None:
    r = client.post("/v1/forecast", json={"rows": rows_of(frame())}, headers={"Accept": "application/xml"})
    assert r.status_code == 406 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == ("cannot answer as 'application/xml'; accept one of application/json, text/csv, "
                                  "application/vnd.apache.parquet")


def test_column_names_are_configurable_in_the_query_or_the_body(client: TestClient) -> None:
    df = frame(("x",)).rename(columns={"unique_id": "store", "ds": "day", "y": "sales"})
    query = "?id_col=store&time_col=day&target_col=sales"
    r = client.post("/v1/forecast" + query, content=csv_of(df), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200
    assert pd.read_csv(io.StringIO(r.text)).iloc[0][["unique_id", "ds"]].tolist() == ["x", "2024-04-30"]
    body = {"rows": json.loads(df.assign(day=df["day"].dt.strftime("%Y-%m-%d")).to_json(orient="records")),
            "id_col": "store", "time_col": "day", "target_col": "sales"}
    assert client.post("/v1/forecast", json=body).json()["rows"][0]["unique_id"] == "x"
    twice = client.post("/v1/forecast?id_col=store", json=body)
    assert twice.status_code == 422 and twice.json()["detail"] == (
        "id_col given both in the query string and in the body; give each once")


def test_gaps_and_nulls_are_filled_and_reported(client: TestClient) -> None:
    df = frame(("a",))
    gappy = df.drop(index=[110]).copy()
    gappy.loc[115, "y"] = None
    r = client.post("/v1/forecast", json={"rows": rows_of(gappy)}).json()
    assert r["filled"] == [{"unique_id": "a", "missing_timestamps": 1, "missing_values": 1, "dropped_leading": 0}]
    values = df["y"].to_numpy().copy()
    for i in (110, 115):
        values[i] = (values[i - 1] + values[i + 1]) / 2
    direct = client.post("/v1/forecast", json={"series": [{"values": values.tolist()}]}).json()["forecasts"][0]
    assert r["rows"][0]["mean"] == pytest.approx(direct["value"], rel=1e-6)


@pytest.mark.parametrize(("change", "status", "detail"), [
    ("duplicate", 422, "series 'a' has more than one row at 2024-01-02; send one value per time"),
    ("holes", 422, "series 'a' has 60 of its last 100 values missing (more than max_missing = 0.5); "
                   "send more recent data or raise max_missing"),
    ("short", 422, "series 'a' has 50 values; this model needs at least 100"),
    ("bad-y", 422, "rows[3].y is 'lots'; values are numbers or null"),
    ("no-id", 422, "rows[0] has no 'unique_id'"),
])
def test_bad_rows_are_refused_naming_the_series(client: TestClient, change: str, status: int, detail: str) -> None:
    df = frame(("a",))
    rows = rows_of(df)
    if change == "duplicate":
        rows.append(dict(rows[1]))
    elif change == "holes":
        rows = rows_of(pd.concat([df.iloc[:20], df.iloc[80:]]))
    elif change == "short":
        rows = rows[:50]
    elif change == "bad-y":
        rows[3]["y"] = "lots"
    else:
        del rows[0]["unique_id"]
    r = client.post("/v1/forecast", json={"rows": rows})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == detail


def test_unreadable_tables_are_400(client: TestClient) -> None:
    r = client.post("/v1/forecast", content=b"not parquet", headers={"Content-Type": PARQUET})
    assert r.status_code == 400 and r.json()["title"] == "Malformed Parquet"
    r = client.post("/v1/forecast", content="unique_id,ds,y\na,2024-01-01,1,9\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["detail"].startswith("the CSV body cannot be read")
    r = client.post("/v1/forecast?fill=sometimes", content=csv_of(frame()), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fill"



@pytest.mark.parametrize("query", ["horizon=true", "horizon=2.5", "horizon=2&max_missing=true", "horizon=2&level=80,true"])
def test_query_options_are_as_strict_as_json_ones(client: TestClient, query: str) -> None:
    """`"horizon": true` is refused in a JSON body; so is `horizon=true` in a query string."""
    r = client.post(f"/v1/forecast/rolling?{query}", content=csv_of(frame()), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text


def test_backtest_answers_rows_and_scores(client: TestClient) -> None:
    df = frame(n=WINDOW + 40)
    r = client.post("/v1/forecast/backtest", json={"rows": rows_of(df), "h": 5, "n_windows": 2, "level": [80],
                                                    "interval_method": "conformal", "calibration_windows": 4,
                                                    "season_length": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["interval_method"] == "conformal" and len(body["rows"]) == 2 * 2 * 5
    assert set(body["rows"][0]) == {"unique_id", "cutoff", "ds", "y", "mean", "lo-80", "hi-80"}
    assert body["rows"][0]["cutoff"] == "2024-05-09" and body["rows"][0]["ds"] == "2024-05-10"
    assert [m["unique_id"] for m in body["metrics"]["series"]] == ["a", "b"]
    assert set(body["metrics"]["overall"]) == {"points", "mae", "rmse", "smape", "mase", "coverage-80"}
    as_csv = client.post("/v1/forecast/backtest?h=5&n_windows=2", content=csv_of(df),
                         headers={"Content-Type": "text/csv"})
    assert list(pd.read_csv(io.StringIO(as_csv.text)).columns) == ["unique_id", "cutoff", "ds", "y", "mean"]
    series_form = client.post("/v1/forecast/backtest", json={"series": [{"values": make_series(WINDOW + 10)}],
                                                              "h": 5, "n_windows": 2})
    assert series_form.json()["rows"][0] == {**series_form.json()["rows"][0], "unique_id": "0", "cutoff": 99, "ds": 100}


def test_anomalies_flag_points_outside_their_interval(client: TestClient) -> None:
    values = make_series(WINDOW + 60, seed=2)
    values[-10] += 30.0
    r = client.post("/v1/anomalies", json={"series": [{"id": "s", "values": values}], "level": 95, "newest": 15})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["rows"]) == 15 and body["interval_method"] == "conformal"
    flagged = [row["ds"] for row in body["rows"] if row["anomaly"]]
    assert flagged[0] == WINDOW + 50 and body["anomalies"] == len(flagged)
    assert set(body["rows"][0]) == {"unique_id", "ds", "y", "mean", "lo-95", "hi-95", "anomaly"}


def test_limits_are_advertised(client: TestClient) -> None:
    limits = client.get("/v1/limits").json()
    assert limits["max_series"] == 10_000 and limits["max_body_bytes"] == 8 * 1024 * 1024
    assert limits["request_formats"] == ["application/json", "text/csv", PARQUET]


def test_openapi_documents_every_form(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/forecast", "/v1/forecast/rolling", "/v1/forecast/backtest", "/v1/anomalies"):
        operation = spec["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {"application/json", "text/csv", PARQUET}
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", PARQUET}
        assert {"id_col", "time_col", "target_col", "freq", "fill"} <= {p["name"] for p in operation["parameters"]}
    assert {"level", "interval_method", "horizon"} <= {
        p["name"] for p in spec["paths"]["/v1/forecast/rolling"]["post"]["parameters"]}
    assert spec["components"]["schemas"]["ForecastRowsRequest"]["examples"]
