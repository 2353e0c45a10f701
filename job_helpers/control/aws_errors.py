"""botocore's errors as one line that says what to fix, and the exit status that goes with it.

Status 2 is a setup the user must change (credentials, profile, region, endpoint); status 1 is a
request AWS refused or could not serve (permissions, throttling, anything else).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

SETUP, REFUSED = 2, 1
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId", "UnrecognizedClientException"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown", "RequestLimitExceeded"}


def credentials_expired(error: BaseException) -> bool:
    """AWS refused the credentials as expired or unknown, or an SSO session or credential process gave none."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code")) in EXPIRED
    return isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError | CredentialRetrievalError)


def describe(error: Exception) -> tuple[str, int] | None:
    """The line and exit status for an AWS error; None for anything that is not one."""
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`), "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            SETUP,
        )
    if isinstance(error, ProfileNotFound):
        return f"{error}: name a profile of ~/.aws/config in AWS_PROFILE or profiles.aws.aws_profile", SETUP
    if isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError):
        return f"the AWS SSO session has expired or is missing: run `aws sso login` for your profile ({error})", SETUP
    if isinstance(error, NoRegionError):
        return "no AWS region: set profiles.aws.region in config.yml or AWS_REGION", SETUP
    if isinstance(error, EndpointConnectionError):
        return (
            f"cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}: check the region "
            "(profiles.aws.region, AWS_REGION), AWS_ENDPOINT_URL and the network",
            SETUP,
        )
    if isinstance(error, BotoCoreError):
        return f"AWS client error: {error}", REFUSED
    return None


def _client_error(error: ClientError) -> tuple[str, int]:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "")).strip() or "no message"
    operation = error.operation_name
    if code in EXPIRED:
        return f"AWS refused the credentials for {operation} ({code}): refresh them (`aws sso login`, or new keys)", SETUP
    if code in DENIED:
        return (
            f"access denied to {operation}: {message}. Grant the action to your identity "
            "(`make policy who=operator` prints what make needs)",
            REFUSED,
        )
    if code in THROTTLED:
        retries = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        return (
            f"AWS throttled {operation} and kept refusing after {retries} retries: try again later, or start fewer jobs at once",
            REFUSED,
        )
    return f"AWS refused {operation} ({code}): {message}", REFUSED
