"""``/metrics`` of the web app (docs/web.md): Prometheus text that prometheus_client's parser reads, counts that agree
with the store the real poll filled, behind the token when one is set (``/healthz`` and ``/readyz`` never are)."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from monitor.api import Monitor
from monitor.web import create_app
from tests.support.webapp import with_token

TOKEN = "metrics-t0ken"


def test_metrics_parse_and_agree_with_the_store(web_monitor: Monitor) -> None:
    with TestClient(create_app(web_monitor)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    for name, kind in [
        ("monitor_feeds", "gauge"),
        ("monitor_feed_fetch_duration_seconds", "histogram"),
        ("monitor_feed_fetch_errors", "counter"),
        ("monitor_articles", "counter"),
        ("monitor_matches", "counter"),
        ("monitor_deliveries", "counter"),
        ("monitor_delivery_queue_depth", "gauge"),
        ("monitor_last_successful_poll_timestamp_seconds", "gauge"),
    ]:
        assert families[name].type == kind, name
    assert samples[("monitor_feeds", (("status", "ok"),))] == 3
    assert samples[("monitor_articles_total", ())] == sum(f.articles for f in web_monitor.feeds())
    by_rule = Counter(m.rule for m in web_monitor.matches())
    assert {k[1][0][1]: v for k, v in samples.items() if k[0] == "monitor_matches_total"} == by_rule
    counts = web_monitor.delivery_counts()
    assert samples[("monitor_delivery_queue_depth", ())] == counts["pending"]
    assert samples[("monitor_deliveries_total", (("channel", "pager"), ("status", "pending")))] == counts["pending"]
    assert samples[("monitor_deliveries_total", (("channel", "chat"), ("status", "sent")))] == counts["sent"]
    assert samples[("monitor_feed_fetch_errors_total", (("reason", "timeout"),))] >= 0
    label_names = {name for _, pairs in samples for name, _ in pairs}
    assert label_names <= {"status", "rule", "channel", "reason", "le"}  # never a feed


def test_a_scraper_asking_for_openmetrics_gets_it(web_monitor: Monitor) -> None:
    with TestClient(create_app(web_monitor)) as client:
        answer = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n") and "monitor_articles_total" in answer.text


def test_metrics_need_the_token_when_one_is_set(web_monitor: Monitor) -> None:
    with TestClient(create_app(with_token(web_monitor, TOKEN)), follow_redirects=False) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", params={"token": TOKEN}).status_code == 401  # ?token= is for Atom only
        good = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and "monitor_articles_total" in good.text
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_metrics_still_answer_when_the_store_is_gone(web_monitor: Monitor) -> None:
    with TestClient(create_app(web_monitor)) as client:
        web_monitor.store.close()
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "monitor_store_up 0.0" in answer.text and "monitor_feed_fetch_duration_seconds_count" in answer.text
