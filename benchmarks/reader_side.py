"""The reader side of ``bench_poll.py --against-reader``: runs in the venv that has ``reader`` (never monitor's).

``python reader_side.py URLS_JSON DATABASE WORKERS``: adds the feeds to a fresh reader database, times two
``update_feeds(workers=WORKERS)`` cycles (the first stores every entry, the second is all 304s) and prints one
JSON line: seconds of each cycle, entries stored, feeds updated with an error and unchanged (304) per cycle,
peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from reader import make_reader


def main() -> None:
    urls_file, database, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(urls_file, encoding="utf-8") as f:
        urls = json.load(f)
    reader = make_reader(database)
    for url in urls:
        reader.add_feed(url)
    times, cpu, errors, not_modified = [], [], [], []
    for _ in range(2):
        started, started_cpu = time.perf_counter(), time.process_time()
        failed = unchanged = 0
        # scheduled=False: every feed, as monitor's cycle polls every feed (not only those due)
        for result in reader.update_feeds_iter(workers=workers, scheduled=False):
            failed += isinstance(result.value, Exception)
            unchanged += result.value is None
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        errors.append(failed)
        not_modified.append(unchanged)
    entries = reader.get_entry_counts().total
    reader.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "first": times[0],
        "second": times[1],
        "first_cpu": cpu[0],
        "second_cpu": cpu[1],
        "entries": entries,
        "errors": errors,
        "not_modified": not_modified,
        "rss_mb": rss,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
