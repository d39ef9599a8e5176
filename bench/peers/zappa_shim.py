"""Run zappa's own CLI (`python zappa_shim.py package STAGE -o OUT`) with two fixes of its
view of PyPI, so that it behaves here as it does on the public internet.

- zappa looks up manylinux wheels at https://pypi.python.org/pypi/<name>/json. On the internet
  that host redirects to pypi.org; this machine resolves only pypi.org. Without the rewrite every
  look-up fails and zappa silently ships the wheels of the virtualenv it runs in (x86_64 builds,
  even for an arm64 function).
- The PyPI mirror this machine reaches answers that JSON with file URLs relative to the page
  (`../../packages/...`); pypi.org gives absolute ones. They are made absolute against the page's
  URL, as a browser would.

Nothing else about zappa changes.
"""

import re
import sys
from urllib.parse import urljoin

import requests

_get = requests.get
_OLD = "https://pypi.python.org/"
_NEW = "https://pypi.org/"


def _get_via_pypi_org(url, *args, **kwargs):
    if not (isinstance(url, str) and url.startswith(_OLD)):
        return _get(url, *args, **kwargs)
    res = _get(_NEW + url[len(_OLD):], *args, **kwargs)
    try:
        data = res.json()
    except ValueError:
        return res
    for files in data.get("releases", {}).values():
        for f in files:
            if "url" in f:
                f["url"] = urljoin(res.url, f["url"])
    res.json = lambda **_: data
    return res


requests.get = _get_via_pypi_org

from zappa.cli import handle  # noqa: E402  (after the patch, as zappa's own script does)

if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", "zappa")
    sys.exit(handle())
