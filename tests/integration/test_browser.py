"""The UI in a real browser, through the front door: Debian's chromium (never a downloaded one),
driven by Playwright. A user logs in, sees both code locations, drops a file, watches its run
succeed and opens the new partition's preview and chart; a viewer sees the runs on the read-only
UI and is offered no way to launch anything. Screenshots go to SCREENSHOT_DIR (`make screenshots`
writes docs/screenshots), else to a temporary folder."""

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.harness.polling import wait_until
from tests.harness.repo import REPO

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and quiet: without the networking flags chromium floods a closed network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SAMPLE = REPO / "samples" / "orders-2024-05-01.csv"
MATERIALIZE = re.compile(r"Materialize")
# Pages on a shared 2-core machine: allow them time to load.
expect.set_options(timeout=30_000)


def table_row(page: Page, text: str):
    """A row of the UI's lists (runs, code locations): divs of a virtualized table, not <tr>s."""
    return page.locator("[class*='VirtualizedTable_row']").filter(has_text=text)


@pytest.fixture(scope="module")
def playwright():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test-integration` installs it (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_ui(stack, playwright, tmp_path):
    """open_ui(who) -> a page logged in as an operator (the UI) or a viewer (the read-only UI),
    in a browser with a fresh profile, the community dialog dismissed whenever it shows."""

    @contextmanager
    def opened(who: str) -> Iterator[Page]:
        username, password = stack.login(who)
        context = playwright.chromium.launch_persistent_context(
            tmp_path / f"profile-{who}", executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True,
            http_credentials={"username": username, "password": password},
            base_url=stack.ui_url if who == "operator" else stack.readonly_url,
            viewport={"width": 1400, "height": 900},
        )
        try:
            context.set_default_timeout(30_000)
            page = context.pages[0] if context.pages else context.new_page()
            # "Join the Dagster community" shows once per instance, over whatever page is first.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
            yield page
        finally:
            context.close()

    return opened


def screenshot(page: Page, path: Path, **options) -> None:
    """The page as shown once it has settled, the community dialog out of the way: it can open
    after the last query the test waited for (the read-only UI cannot record it was dismissed)."""
    page.wait_for_load_state("networkidle")
    # An assertion runs the page's locator handler first, which clicks Skip if the dialog shows.
    expect(page.get_by_role("button", name="Skip")).to_be_hidden()
    page.screenshot(path=path, **options)


@pytest.fixture(scope="module")
def dropped(stack) -> dict:
    """A sample file dropped under a key of its own: its key (= partition) and its run key."""
    key = f"browser-{uuid.uuid4().hex[:8]}-{SAMPLE.name}"
    return {"key": key, "source": stack.drop(key, SAMPLE.read_bytes())}


def test_an_operator_logs_in_and_sees_both_code_locations_loaded(stack, open_ui, screenshots):
    with open_ui("operator") as page:
        page.goto("/locations")
        for location in ("ingestion", "analytics"):
            expect(table_row(page, f"/{location}:{stack.location_image_tag(location)}")).to_contain_text("Loaded")
        screenshot(page, screenshots / "code-locations.png")


def test_a_dropped_file_runs_and_its_partition_shows_preview_and_chart(stack, open_ui, screenshots, dropped):
    with open_ui("operator") as page:
        page.goto("/locations/ingestion/sensors/landing_sensor")
        # The sensor page loads its tick history first: slow on a busy machine.
        expect(page.get_by_role("row", name="Target job ingest_orders_job")).to_be_visible(timeout=90_000)
        expect(page.get_by_role("row", name="Running").get_by_role("checkbox")).to_be_checked()
        screenshot(page, screenshots / "landing-sensor.png")

        (run,) = wait_until("the landing sensor's run for the drop", lambda: stack.runs_tagged("stack/source", dropped["source"]), 60)
        page.goto("/runs")
        # The runs list refreshes itself every few seconds; no reload needed.
        expect(table_row(page, run["runId"][:8])).to_contain_text("Success", timeout=150_000)
        screenshot(page, screenshots / "runs.png")

        page.goto(f"/assets/ingestion/orders?view=partitions&partition={quote(dropped['key'])}")
        expect(page.get_by_role("button", name=MATERIALIZE).first).to_be_enabled()
        preview = page.get_by_role("row").filter(has=page.get_by_text("preview", exact=True))
        expect(preview.locator("table")).to_contain_text("order_id")
        screenshot(page, screenshots / "partition.png", full_page=True)

        row = page.get_by_role("row").filter(has=page.get_by_text("rows_per_day", exact=True))
        expect(row).to_be_visible()
        # The UI shows markdown under 1,000 characters in place, longer markdown behind a link to a
        # dialog: a chart of a few days' rows is short enough since its PNG stores repeated rows as such.
        show = row.get_by_text("[Show Markdown]")
        in_dialog = show.count() > 0
        if in_dialog:
            show.click()
        holder = page.get_by_role("dialog") if in_dialog else row
        chart = holder.locator("img[src^='data:image/png']")
        expect(chart).to_be_visible()
        assert chart.evaluate("image => image.complete && image.naturalWidth > 0"), "the chart did not render"
        holder.screenshot(path=screenshots / "partition-chart.png")


def test_a_viewer_sees_the_runs_but_is_offered_no_launch(stack, open_ui, screenshots, dropped):
    run = stack.wait_for_sensor_run(dropped["source"], timeout=150)
    with open_ui("viewer") as page:
        page.goto("/runs")
        expect(table_row(page, run["runId"][:8])).to_contain_text("Success")
        screenshot(page, screenshots / "readonly-runs.png")

        page.goto("/assets/ingestion/orders")
        # The asset's definition has loaded once its tabs show; only then is the header's button drawn.
        expect(page.get_by_role("tab", name="Partitions")).to_be_visible()
        page.wait_for_load_state("networkidle")
        materialize = page.get_by_role("button", name=MATERIALIZE)
        offered = [button for button in materialize.all() if button.is_enabled()]
        assert not offered, "the read-only UI offers to materialize"
        screenshot(page, screenshots / "readonly-asset.png")
