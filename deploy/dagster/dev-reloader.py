"""Dev mode only: watches each code location's mounted folder and, when a file changes, reloads
that location through the webserver's GraphQL API, as the UI's Reload button does: its code
server re-imports the code and the daemon follows. No image is built, no container restarts.

Usage: dev-reloader.py LOCATION=FOLDER ...   (e.g. ingestion=/code/ingestion)
"""

import os
import sys
import time

from dagster_graphql import DagsterGraphQLClient, ReloadRepositoryLocationStatus

POLL_SECONDS = 0.3
WATCHED_SUFFIXES = (".py", ".yaml", ".yml", ".toml", ".sql", ".json", ".csv")


def snapshot(folder: str) -> dict[str, float]:
    """Path -> modification time of the files a location's code may read."""
    found = {}
    for root, directories, files in os.walk(folder):
        directories[:] = [name for name in directories if not name.startswith(".") and name != "__pycache__"]
        for name in files:
            if name.endswith(WATCHED_SUFFIXES):
                path = os.path.join(root, name)
                try:
                    found[path] = os.stat(path).st_mtime_ns
                except FileNotFoundError:  # removed between the listing and the stat
                    pass
    return found


def reload(webserver: DagsterGraphQLClient, location: str) -> bool:
    """Asks the webserver to reload the location; False if it could not be asked (try again)."""
    started = time.monotonic()
    try:
        info = webserver.reload_repository_location(location)
    except Exception as error:  # the webserver starting or restarting
        print(f"{location}: reload not possible yet, trying again: {error}", flush=True)
        time.sleep(2)
        return False
    if info.status == ReloadRepositoryLocationStatus.SUCCESS:
        print(f"{location}: reloaded in {time.monotonic() - started:.1f} s", flush=True)
    else:  # e.g. a syntax error in the saved file: the UI shows it on the location too
        print(f"{location}: the code does not load: {info.message}", flush=True)
    return True


def main(watches: list[tuple[str, str]]) -> None:
    # The webserver on the stack's network: the proxy's login guards it from the host, not from here.
    webserver = DagsterGraphQLClient("webserver", port_number=3000, timeout=120)
    seen = {location: snapshot(folder) for location, folder in watches}
    print("watching " + ", ".join(f"{folder} for {location}" for location, folder in watches), flush=True)
    while True:
        time.sleep(POLL_SECONDS)
        for location, folder in watches:
            now = snapshot(folder)
            if now != seen[location] and reload(webserver, location):
                seen[location] = now


if __name__ == "__main__":
    if len(sys.argv) < 2 or not all("=" in argument for argument in sys.argv[1:]):
        sys.exit(__doc__)
    main([tuple(argument.split("=", 1)) for argument in sys.argv[1:]])
