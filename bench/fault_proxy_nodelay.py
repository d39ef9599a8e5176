"""tests/support/fault_proxy.py with TCP_NODELAY on its connections, for the bench.

The proxy writes a response's headers and body in separate sends; with Nagle's algorithm on,
the body then waits for the client's delayed ACK, about 40 ms per request on Linux (measured
here: GetAlias 50 ms through the proxy, 3.4 ms straight to moto, 4.6 ms with this flag). That
would swamp the request timings the bench reads from the proxy, so the bench sets the standard
`socketserver.StreamRequestHandler.disable_nagle_algorithm` flag and runs the proxy unchanged
otherwise. Same arguments as the proxy.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "support"))

import fault_proxy  # noqa: E402

fault_proxy.Handler.disable_nagle_algorithm = True

if __name__ == "__main__":
    fault_proxy.main()
