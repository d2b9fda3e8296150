# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talk to the Nautobot API: a fail-closed GraphQL and REST client.

Its settings (url, token, validate_certs, timeout) are the options of the ``netops.nautobot_backup.nautobot``
doc fragment, whose argument spec is plugin_utils.argspecs.NAUTOBOT_SPEC.

Every failure (HTTP 401/403, 5xx, timeout, refused connection, GraphQL ``errors``, a body
that is not JSON) raises ``NautobotAPIError`` with a message that names the URL and never
the token, so callers can fail closed instead of mistaking an error for "no devices".
The REST helpers (``get``, ``get_all``, ``patch``, ``post``) go through the same request path.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

if has_library("requests"):
    import requests

_BODY_EXCERPT = 200
# Page size for get_all (Nautobot's default MAX_PAGE_SIZE is 1000; a smaller limit is honoured too).
_PAGE_LIMIT = 1000


class NautobotAPIError(NautobotBackupError):
    """Nautobot could not be reached or answered with an error."""

    def __init__(self, message: str, url: str, status: Optional[int] = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class NautobotClient:
    """A keep-alive session to one Nautobot server, authenticated with an API token."""

    def __init__(
        self,
        url: str,
        token: str,
        validate_certs: bool = True,
        timeout: float = 30,
        session: Optional[Any] = None,
    ) -> None:
        require("requests")
        if not url:
            raise NautobotAPIError("no Nautobot URL given (option url or NAUTOBOT_URL)", url="")
        if not token:
            raise NautobotAPIError(f"no Nautobot token given for {url} (option token or NAUTOBOT_TOKEN)", url=url)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.verify = validate_certs
        self._session.headers.update(
            {"Authorization": f"Token {token}", "Accept": "application/json", "Content-Type": "application/json"}
        )

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint of this server."""
        return f"{self.url}/api/graphql/"

    def graphql(self, query: str, variables: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """POST a GraphQL query and return its ``data``; raise NautobotAPIError on any failure."""
        payload: Dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = dict(variables)
        body = self._request("POST", self.graphql_url, payload)
        errors = body.get("errors")
        if errors:
            messages = "; ".join(str(err.get("message", err)) if isinstance(err, dict) else str(err) for err in errors)
            raise NautobotAPIError(f"Nautobot GraphQL at {self.graphql_url} returned errors: {messages}", self.url)
        data = body.get("data")
        if not isinstance(data, dict):
            raise NautobotAPIError(f"Nautobot GraphQL answer from {self.graphql_url} has no data", self.url)
        return data

    def api_url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/api/dcim/devices/`` (``/api`` is added when missing)."""
        path = "/" + path.lstrip("/")
        if not path.startswith("/api/"):
            path = "/api" + path
        return f"{self.url}{path}"

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """GET a REST endpoint and return its JSON object; raise NautobotAPIError on any failure."""
        return self._request("GET", self.api_url(path), None, params=params)

    def get_all(self, path: str, params: Optional[Mapping[str, Any]] = None, limit: int = _PAGE_LIMIT) -> List[Any]:
        """GET every page of a REST list endpoint and return all ``results``; raise NautobotAPIError on any failure.

        Pages are requested with ``limit``/``offset`` against this client's own URL (the ``next``
        links Nautobot builds may name another host behind a proxy), until ``count`` results are
        read, a page has no ``next`` link, or a page is empty. A page without a ``results`` list is
        an error, never an empty answer.
        """
        url = self.api_url(path)
        results: List[Any] = []
        while True:
            page_params = dict(params or {}, limit=limit, offset=len(results))
            body = self._request("GET", url, None, params=page_params)
            page = body.get("results")
            if not isinstance(page, list):
                raise NautobotAPIError(f"Nautobot at {url} answered without a results list", self.url)
            results.extend(page)
            count = body.get("count")
            if not page or not body.get("next") or (isinstance(count, int) and len(results) >= count):
                return results

    def patch(self, path: str, payload: Any) -> Any:
        """PATCH a REST endpoint (a list payload is a bulk update) and return the decoded JSON object or list."""
        return self._request("PATCH", self.api_url(path), payload, allow_list=True)

    def post(self, path: str, payload: Any) -> Any:
        """POST to a REST endpoint (create an object) and return the decoded JSON object or list."""
        return self._request("POST", self.api_url(path), payload, allow_list=True)

    def _request(
        self,
        method: str,
        url: str,
        payload: Any,
        params: Optional[Mapping[str, Any]] = None,
        allow_list: bool = False,
    ) -> Any:
        """Send one request and return the decoded JSON object, raising NautobotAPIError on failure.

        With allow_list, a JSON list is accepted too (bulk endpoints answer with one). The query
        string (params) never appears in error messages; only the URL does.
        """
        try:
            response = self._session.request(
                method, url, json=payload, params=params, timeout=self.timeout, allow_redirects=False
            )
        except requests.exceptions.Timeout as exc:
            raise NautobotAPIError(f"Nautobot at {url} did not answer within {self.timeout}s", self.url) from exc
        except requests.exceptions.SSLError as exc:
            raise NautobotAPIError(
                f"TLS verification failed for Nautobot at {url} (validate_certs: false accepts self-signed ones)",
                self.url,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise NautobotAPIError(f"cannot connect to Nautobot at {url}: {_reason(exc)}", self.url) from exc
        except requests.exceptions.RequestException as exc:
            raise NautobotAPIError(f"request to Nautobot at {url} failed: {_reason(exc)}", self.url) from exc
        status = response.status_code
        if status in (401, 403):
            raise NautobotAPIError(
                f"Nautobot at {url} refused the API token (HTTP {status}): check the token and its permissions",
                self.url,
                status,
            )
        if status >= 300:
            raise NautobotAPIError(
                f"Nautobot at {url} answered HTTP {status}: {_excerpt(response.text)}", self.url, status
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise NautobotAPIError(
                f"Nautobot at {url} answered with a body that is not JSON: {_excerpt(response.text)}", self.url, status
            ) from exc
        if not isinstance(body, dict) and not (allow_list and isinstance(body, list)):
            raise NautobotAPIError(f"Nautobot at {url} answered with unexpected JSON: {_excerpt(str(body))}", self.url)
        return body

    def close(self) -> None:
        """Close the keep-alive session."""
        self._session.close()


def _excerpt(text: str) -> str:
    """Return the first characters of a response body, on one line."""
    flat = " ".join((text or "").split())
    return flat[:_BODY_EXCERPT] + ("..." if len(flat) > _BODY_EXCERPT else "") if flat else "(empty body)"


def _reason(exc: Exception) -> str:
    """Return a short reason for a requests exception (e.g. 'Connection refused')."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "Connection reset"):
        if marker in text:
            return marker
    return _excerpt(text)
