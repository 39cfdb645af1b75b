"""Who may open one of the app's own WebSockets, and how much each may send: the front door that the fast path
(ui/fast.py), the guessing game's socket (ui/guess_path.py) and the Train page's feed (ui/train_feed.py) share.
Serving what comes in is theirs.

- **Origin:** an upgrade from a foreign Origin is refused, so no other site's page can open one on a learner's
  behalf (`origin_allowed`).
- **Token:** only a page Streamlit has served holds a token, signed with Streamlit's cookie secret, so the
  server keeps nothing for a page until it opens a socket (`issue_token`, `token_valid`).
- **Bounds:** a Door counts its open sockets, in all and per token: a bound per page, not per address, since a
  whole class may share one address behind the school's NAT.
- **Rate:** a Bucket per socket; a client that goes on past it is cut off.

`messages` reads an accepted socket within the size cap and the rate; the fast path and the guessing game's socket
(ui/guess_path.py) both read theirs with it.

A refused upgrade is closed before it is accepted, which a browser sees as HTTP 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from streamlit import config

RATE, BURST = 50.0, 100  # messages a second per socket, and how many may come at once
CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_BUSY = 1008, 1009, 1013  # WebSocket close codes: refused, too big, full


def route_path(route: str) -> str:
    """One of our routes under server.baseUrlPath: Starlette does not prefix them as it does Streamlit's."""
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{route}" if base else route


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same origin as the page (the Host it was asked for), or listed in server.corsAllowedOrigins. A request
    without Origin is not from a browser page (browsers always send one on an upgrade), so no page can be
    made to send it on a learner's behalf."""
    if origin is None:
        return True
    parsed = urlparse(origin)
    if host and (parsed.netloc == host or (":" not in host and parsed.hostname == host.lower())):
        return True  # a proxy may pass the Host without its port (nginx's $host): then the names must match
    return origin.rstrip("/") in {o.strip().rstrip("/") for o in config.get_option("server.corsAllowedOrigins")}


def sign(nonce: str) -> str:
    """Keyed by Streamlit's cookie secret: scripts/serve.sh gives every process the same one, so a token is good
    on whichever process the page's cookie leads to; a lone process makes its own at start."""
    key = str(config.get_option("server.cookieSecret")).encode()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def issue_token(nonce: str | None = None) -> str:
    """A token for `nonce` (a fresh random one by default): the nonce, a dot and its signature."""
    nonce = secrets.token_urlsafe(12) if nonce is None else nonce
    return f"{nonce}.{sign(nonce)}"


def token_valid(token: str | None) -> bool:
    if not token or len(token) > 100 or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, sign(nonce))


def token_nonce(token: str) -> str:
    """What a valid token was issued for."""
    return token.split(".")[0]


class Door:
    """The sockets a route holds open: at most `most` in all and `per_token` for one token. Threads: only the
    event loop's thread (the route's handlers) calls it, so it takes no lock."""

    def __init__(self, most: int, per_token: int):
        self.most, self.per_token = most, per_token
        self.open = 0
        self.per_page: dict[str, int] = {}  # token -> open sockets; a token leaves when its last socket closes

    def refusal(self, origin: str | None, host: str | None, token: str | None) -> int | None:
        """The close code to refuse an upgrade with, or None to let it in (then `enter`, and `leave` once it
        closes)."""
        if not origin_allowed(origin, host) or not token_valid(token):
            return CLOSE_POLICY
        if self.open >= self.most or self.per_page.get(token, 0) >= self.per_token:
            return CLOSE_BUSY
        return None

    def enter(self, token: str) -> None:
        self.open += 1
        self.per_page[token] = self.per_page.get(token, 0) + 1

    def leave(self, token: str) -> None:
        self.open -= 1
        self.per_page[token] -= 1
        if not self.per_page[token]:
            del self.per_page[token]


@dataclass
class Bucket:
    """A token bucket: RATE messages a second, BURST at once."""

    tokens: float = BURST
    at: float = field(default_factory=time.monotonic)
    # refused since the bucket was last full: a client keeps flooding as long as it never lets it refill
    # (counting only refusals in a row let a flood through whenever a token trickled back between them)
    refused: int = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.at) * RATE)
        self.at = now
        if self.tokens >= BURST:
            self.refused = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False

    def cut_off(self) -> bool:
        """Whether a client refused this often since the bucket was last full is flooding: close its socket."""
        return self.refused > BURST


async def messages(ws, most: int, error: Callable[[str], str]) -> AsyncIterator[str]:
    """The text of each message an accepted socket sends, until it closes, within its bounds: a binary frame is read
    as UTF-8; one over `most` characters is answered with `error(why)` (an error frame as JSON text) and the socket
    closed (1009); past the Bucket's rate each message is answered "too many messages", and a client that goes on
    is cut off (1008)."""
    bucket = Bucket()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:  # a binary frame
            raw = (message.get("bytes") or b"").decode("utf-8", "replace")
        if len(raw) > most:
            await ws.send_text(error(f"a message is at most {most} characters"))  # says why, then hangs up
            await ws.close(code=CLOSE_TOO_BIG)
            return
        if not bucket.take():
            if bucket.cut_off():
                await ws.close(code=CLOSE_POLICY)
                return
            await ws.send_text(error("too many messages"))
            continue
        yield raw
