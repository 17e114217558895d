"""Product reviews, the catalogue and the product ↔ review map on crafted files: rules, reasons, no invented match."""

from __future__ import annotations

import pytest
from checks import quarantine_reasons

pytestmark = pytest.mark.spark

DAY = "2026-02-24"
HEADER = "category,source_url,product_id,rating,review_text,title,author,submission_time\r\n"


def _write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def test_reviews_of_the_day_are_typed_and_every_rejected_row_has_a_reason(spark, tmp_path):
    from shoplake.transforms.product_reviews import curate_reviews, land_reviews

    rows = [
        'bestsellers,u,P1,5,"Lovely.\nLasts all day, ""really"".",Great,Ann,2026-02-24T06:22:28.000+00:00',  # LF inside
        "bestsellers,u,P1, 4.0 ,[I received this product in exchange] ok,,Bob,2026-02-24T07:00:00.000+00:00",
        "bestsellers,u,P2,6,too many stars,,Cy,2026-02-24T08:00:00.000+00:00",
        "bestsellers,u,P2,x,no number,,Di,2026-02-24T09:00:00.000+00:00",
        "bestsellers,u,,3,no product,,Ed,2026-02-24T10:00:00.000+00:00",
        'bestsellers,u,P3,2,"   ",,Fi,2026-02-24T11:00:00.000+00:00',
        "bestsellers,u,P4,5,[I received this product in exchange for my honest review],,Jo,2026-02-24T12:00:00Z",
        "bestsellers,u,P3,3,a day later,,Gu,2026-02-25T11:00:00.000+00:00",  # another day's row: not this run's
        "bestsellers,u,P3,3,when?,,Ho,yesterday",
        'bestsellers,u,P1,5,"Lovely.\nLasts all day, ""really"".",Great,Ann,2026-02-24T06:22:28.000+00:00',  # copy
    ]
    path = _write(tmp_path / "reviews.csv", HEADER + "\r\n".join(rows) + "\r\n")
    landed = land_reviews(spark, path, DAY)
    assert landed.good.count() == 9  # every row but the next day's
    checked = curate_reviews(landed.good)
    good = {r.rating: r for r in checked.good.collect()}
    assert sorted(good) == [4, 5]
    assert good[5].review_text == 'Lovely.\nLasts all day, "really".'
    assert good[4].review_text == "ok"  # the disclosure is a flag, not text
    assert good[4].incentivised
    assert not good[5].incentivised
    assert good[5].author_key != "Ann"
    assert len(good[5].author_key) == 64  # the nickname never reaches curated
    assert quarantine_reasons(checked) == [
        "duplicate review",
        "empty review text",
        "empty review text",
        "product_id missing",
        "rating not a whole number 1-5",
        "rating not a whole number 1-5",
        "submission_time not ISO-8601",
    ]


def test_catalogue_files_with_different_headers_are_read_by_name(spark, tmp_path):
    from shoplake.transforms.product_reviews import curate_catalog

    kaggle = "product_id,product_name,brand_name,price_usd,primary_category\n"
    _write(tmp_path / "a.csv", kaggle + "P1,Eau,Dior,120,Fragrance\nP2,Cream,,30,Skincare\n")
    _write(tmp_path / "b.csv", "product_id,source_url,Brand,Highlights\nP1,u,Dior,x\nP3,u,L'Oréal Paris,y\n")
    checked, read = curate_catalog(spark, str(tmp_path / "*.csv"))
    good = {r.product_id: r for r in checked.good.collect()}
    assert read == 4
    assert sorted(good) == ["P1", "P3"]
    assert (good["P1"].brand, good["P1"].price_usd, good["P1"].primary_category) == ("Dior", 120.0, "Fragrance")
    assert good["P3"].brand_key == "lorealparis"
    assert quarantine_reasons(checked) == [
        "brand missing",
        "product listed again (first listing kept)",
    ]


def test_the_map_matches_brands_uses_categories_and_never_invents_a_match(spark):
    from click_events import events_table

    from shoplake.transforms.product_reviews import review_map

    events = spark.createDataFrame(
        events_table([("u", "s", p, "view", 0) for p in (1, 2, 3, 4)], "2019-10-01")
        .to_pandas()
        .assign(
            brand=["Dior", "google", "DIOR ", "acme"],
            category_code=["beauty.fragrance", "electronics.smartphone", None, None],
        )
    )
    catalog = spark.createDataFrame(
        [("P1", "dior", "Fragrance", "Women", "Perfume"), ("P9", "google", "Makeup", None, None)],
        "product_id string, brand_key string, primary_category string, secondary_category string, "
        "tertiary_category string",
    )
    reviews = spark.createDataFrame([("P1", 5), ("P1", 3)], "product_id string, rating int")
    got = {r.product_id: r for r in review_map(events, catalog, reviews).collect()}
    assert (got[1].match_method, got[1].brand_reviews, got[1].brand_avg_rating) == ("brand+category", 2, 4.0)
    assert got[1].brand_positive_share == 0.5
    assert (got[2].match_method, got[2].category_conflict) == ("none", True)  # a phone is not the beauty brand
    assert (got[3].match_method, got[3].brand_key) == ("brand", "dior")  # no category to contradict the brand
    assert (got[4].match_method, got[4].brand_reviews, got[4].brand_avg_rating) == ("none", 0, None)
