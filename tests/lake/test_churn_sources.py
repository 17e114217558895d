"""Landing and curating the churn sources on crafted files: every line ends curated or quarantined with a reason."""

import json

import pytest
from checks import quarantine_reasons

pytestmark = pytest.mark.spark

DS = "2018-11-05"
TS = 1_541_376_000_000  # 2018-11-05 00:00 UTC, in ms


def sparkify_event(user="7", *, session=1, item=0, ts=TS, page="NextSong", **kw):
    event = {
        "artist": "Band",
        "auth": "Logged In",
        "firstName": "Ann",
        "gender": "F",
        "itemInSession": item,
        "lastName": "B",
        "length": 200.0,
        "level": "free",
        "location": "Here, CA",
        "method": "PUT",
        "page": page,
        "registration": 1_540_000_000_000.0,
        "sessionId": session,
        "song": "Song",
        "status": 200,
        "ts": ts,
        "userAgent": '"Mozilla/5.0"',
        "userId": user,
    }
    return {**event, **kw}


def write_sparkify_day(root, lines):
    day = root / "log_data" / "2018" / "11"
    day.mkdir(parents=True, exist_ok=True)
    (day / f"{DS}-events.json").write_text("\n".join(lines))  # like upstream: no newline after the last line
    return str(root)


def test_sparkify_lines_are_curated_or_quarantined_with_reasons(spark, tmp_path):
    from shoplake.transforms.churn_sources import curate_sparkify, land_sparkify

    lines = [
        json.dumps(sparkify_event(item=0)),
        json.dumps(sparkify_event(item=1, page="Thumbs Up", song=None, artist=None, length=None)),
        json.dumps(sparkify_event(item=1, page="Thumbs Up", song=None, artist=None, length=None)),  # duplicate
        json.dumps(sparkify_event(user="", item=2, page="Home", auth="Logged Out")),  # logged out: kept, no user
        json.dumps(sparkify_event(item=3, ts=TS - 1)),  # the day before
        json.dumps(sparkify_event(item=4, page=" ")),
        '{"ts": 1541376000000, "page": "Home", "sessionId": ',  # truncated line
    ]
    landed = land_sparkify(spark, write_sparkify_day(tmp_path, lines), DS)
    assert (landed.good.count(), landed.quarantine.count()) == (6, 1)
    assert landed.quarantine.first()["reason"] == "unparseable JSON line"

    curated = curate_sparkify(landed.good, DS)
    assert quarantine_reasons(curated) == [
        "duplicate event (same session, item and ts)",
        "page missing",
        f"ts outside {DS} (UTC)",
    ]
    rows = {r["item_in_session"]: r.asDict() for r in curated.good.collect()}
    assert sorted(rows) == [0, 1, 2]
    assert rows[2]["user_id"] is None
    assert rows[0]["user_agent"] == "Mozilla/5.0"
    assert str(rows[0]["event_time"]) == "2018-11-05 00:00:00"
    assert rows[0]["level"] == "free"


def test_telco_blank_total_charges_are_imputed_and_bad_rows_quarantined(spark, tmp_path):
    from shoplake.transforms.churn_sources import curate_telco, land_telco

    header = (
        "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,InternetService,"
        "OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies,Contract,"
        "PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn"
    )
    services = "Yes,No,DSL,No,Yes,No,No,No,No,Month-to-month,Yes,Electronic check"
    rows = [
        f"0001-A,Female,0,Yes,No,1,{services},29.85,29.85,No",
        f"0002-B,Male,1,No,No,0,{services},20.00, ,Yes",  # a new customer: blank TotalCharges
        f"0003-C,Male,0,No,No,-4,{services},20.00,30.0,No",
        f"0004-D,Male,0,No,No,3,{services},20.00,60.0,Maybe",
        f"0001-A,Female,0,Yes,No,1,{services},29.85,29.85,No",  # the id again
    ]
    path = tmp_path / "telco.csv"
    path.write_text("\n".join([header, *rows]) + "\n")

    landed = land_telco(spark, str(path))
    curated = curate_telco(landed.good)
    bad = {(r["record_id"], r["reason"]) for r in curated.quarantine.collect()}
    assert bad == {
        ("0003-C", "tenure not a non-negative integer"),
        ("0004-D", "Churn not Yes/No"),
        ("0001-A", "customerID not unique in the snapshot"),
    }
    good = {r["customer_id"]: r.asDict() for r in curated.good.collect()}
    assert sorted(good) == ["0002-B"]
    assert good["0002-B"]["total_charges"] == 0.0
    assert good["0002-B"]["total_charges_imputed"] is True
    assert good["0002-B"]["churned"] is True
    assert landed.good.count() == curated.good.count() + curated.quarantine.count()


def test_clickstream_keeps_the_day_and_quarantines_bad_events(spark, tmp_path):
    from shoplake.transforms.churn_sources import curate_clickstream, land_clickstream

    header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
    lines = [
        "2019-10-01 00:00:00 UTC,view,1,10,electronics.smartphone,acme,100.0,1,s1",
        "2019-10-01 00:01:00 UTC,cart,1,10,electronics.smartphone,acme,100.0,1,s1",
        "2019-10-01 00:01:00 UTC,cart,1,10,electronics.smartphone,acme,100.0,1,s1",  # duplicate
        "2019-10-01 00:02:00 UTC,wishlist,2,10,,acme,5.0,2,s2",
        "2019-10-01 00:03:00 UTC,view,3,10,,acme,-1.0,2,s2",
        "yesterday,view,3,10,,acme,1.0,2,s2",
        "2019-10-02 00:00:00 UTC,view,3,10,,acme,1.0,2,s3",  # another day's partition
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header, *lines]) + "\n")

    landed = land_clickstream(spark, str(path), "2019-10-01")
    assert landed.good.count() == 6
    curated = curate_clickstream(landed.good)
    assert quarantine_reasons(curated) == [
        "duplicate event",
        "event_time not 'YYYY-MM-DD HH:MM:SS UTC'",
        "price missing or negative",
        "unknown event_type",
    ]
    good = curated.good.orderBy("event_time").collect()
    assert [r["event_type"] for r in good] == ["view", "cart"]
    assert good[0]["top_category"] == "electronics"
    assert good[0]["user_id"] == "1"
