"""The connection to the Hugging Face Hub: where it is, may we call it, who we are, what its errors mean.

Search (hub_search.py), inspection (hub_inspect.py) and download (download.py) all go through here, so three
rules hold everywhere:
- HF_ENDPOINT, HF_HOME / HF_HUB_CACHE and HF_TOKEN are honoured, read when called (not only at import).
- Offline mode (a setting, app/core/offline.py) means no network call at all: `require_online()` refuses before
  any request, and huggingface_hub's own HF_HUB_OFFLINE switch is set so its HTTP client refuses too.
- Every huggingface_hub / network exception becomes a QuantDeskError in plain words (`hub_error`); the token
  never appears in a message or the log.
- Every call says why it goes online (`require_online(why)`), and every request is recorded with its host and
  that reason (network_log.py): the window lists them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import HfApi, constants, get_token, login, logout
from huggingface_hub import errors as hf_errors

from app.core.errors import (
    GatedModelError,
    HubConnectionError,
    HubError,
    InvalidTokenError,
    OfflineModeError,
    QuantDeskError,
    RepoFileNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from app.core.hub import network_log
from app.core.offline import apply_offline_mode

log = logging.getLogger(__name__)
network_log.install()  # before any request: every one of them is recorded
# No telemetry, whatever imported huggingface_hub first: it reads HF_HUB_DISABLE_TELEMETRY once, at import,
# and with telemetry on its user-agent code fetches an "agent harness" list from huggingface.co on its own
# (utils/_detect_agent.py), even with HF_ENDPOINT pointing elsewhere. offline.py sets the variable before any
# entry point imports the library; this holds when something imported it earlier (a tool, a test, a plugin).
constants.HF_HUB_DISABLE_TELEMETRY = True

# ---- where ---------------------------------------------------------------------------------------------


def hub_endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_api(why: str = "") -> HfApi:
    """A client for the endpoint as it is now; the token comes from HF_TOKEN or huggingface_hub's store."""
    require_online(why)
    return HfApi(endpoint=hub_endpoint())


# ---- offline mode (the setting itself: app/core/offline.py) ---------------------------------------------


def require_online(why: str = "") -> None:
    """Our own guard, before any network call: offline means not even a request that would be refused.

    `why` says, in a person's words, what the calls that follow on this thread are for ("search for
    models"); the network log shows it beside each host. An empty `why` keeps the reason already set.
    """
    if why:
        network_log.set_purpose(why)
    if apply_offline_mode():
        raise OfflineModeError(
            "Offline mode is on, so QuantDesk did not connect to the internet. Switch it off to search or "
            "download models.",
            "settings: offline = true, or HF_HUB_OFFLINE is set",
        )


# ---- who -------------------------------------------------------------------------------------------------


def has_token() -> bool:
    return get_token() is not None


def save_token(token: str) -> str:
    """Check a Hugging Face token with the Hub and keep it in huggingface_hub's own token store.

    Returns the account name. The token is never logged or put in an error message.
    """
    token = token.strip()
    if not token:
        raise InvalidTokenError("Please paste a Hugging Face access token.", "empty token")
    with hub_errors():
        name = str(hub_api("check a Hugging Face token").whoami(token=token).get("name", ""))
    try:
        # login() checks it again and writes HF_HOME/token (+ stored_tokens) the way `hf auth login` does
        login(token=token, add_to_git_credential=False)
    except ValueError as error:
        raise InvalidTokenError("Hugging Face did not accept this token.", type(error).__name__) from None
    log.info("a Hugging Face token was saved for account %s", name)
    return name


def forget_token() -> None:
    """Remove the stored token(s) (HF_TOKEN in the environment, if set, stays: it is not ours to change)."""
    try:
        logout()
    except (OSError, KeyError, ValueError) as error:  # nothing stored is fine
        log.info("logout: %s", type(error).__name__)


# ---- what its errors mean ------------------------------------------------------------------------------


def _detail(error: BaseException) -> str:
    # the client's messages hold URLs and request ids, never the token (it sends it only as a header)
    return f"{type(error).__name__}: {error}"


def translate_hub_error(error: BaseException, what: str = "") -> QuantDeskError:
    """A huggingface_hub or network exception in plain words. `what` names the model or file concerned."""
    name = what or "this model"
    if isinstance(error, QuantDeskError):
        return error
    if isinstance(error, hf_errors.HFValidationError):  # the client checks names before sending anything
        return RepoNotFoundError(
            f"'{what}' is not a model name Hugging Face accepts: names look like 'organisation/model-name' "
            "(letters, digits, '-', '_', '.').", _detail(error))
    if isinstance(error, hf_errors.OfflineModeIsEnabled):
        return OfflineModeError("Offline mode is on, so QuantDesk did not connect to the internet.",
                                _detail(error))
    if isinstance(error, hf_errors.GatedRepoError):
        return GatedModelError(
            f"{name} is gated: its authors ask you to accept their terms on huggingface.co first. "
            "Then paste a Hugging Face token that has access.", _detail(error))
    if isinstance(error, hf_errors.RevisionNotFoundError):
        return RevisionNotFoundError(f"{name} has no such version (branch, tag or commit).", _detail(error))
    if isinstance(error, (hf_errors.RemoteEntryNotFoundError, hf_errors.EntryNotFoundError)):
        return RepoFileNotFoundError(f"The file was not found in {name}.", _detail(error))
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        return RepoNotFoundError(
            f"No model called {name} was found on Hugging Face. Check the spelling (it looks like "
            "'organisation/model-name'); private models need a token.", _detail(error))
    if isinstance(error, hf_errors.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else 0
        if status == 401:
            return InvalidTokenError("Hugging Face did not accept the token.", _detail(error))
        return HubError(f"Hugging Face answered with an error (HTTP {status}). Try again later.",
                        _detail(error))
    if isinstance(error, (httpx2.TransportError, ConnectionError, TimeoutError)):
        return HubConnectionError(
            "Could not reach Hugging Face. Check the internet connection and try again; downloads continue "
            "from where they stopped.", _detail(error))
    if isinstance(error, httpx2.HTTPError):
        return HubError("The connection to Hugging Face failed.", _detail(error))
    return HubError("Something went wrong talking to Hugging Face.", _detail(error))


@contextmanager
def hub_errors(what: str = "") -> Iterator[None]:
    """Turn anything the client raises inside the block into a QuantDeskError (see translate_hub_error)."""
    try:
        yield
    except QuantDeskError:
        raise
    except (hf_errors.HfHubHTTPError, hf_errors.OfflineModeIsEnabled, hf_errors.EntryNotFoundError,
            hf_errors.HFValidationError, httpx2.HTTPError, ConnectionError, TimeoutError) as error:
        raise translate_hub_error(error, what) from None
