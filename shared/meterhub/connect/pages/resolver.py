"""The resolver for browser-facing functions: every failure is a page a customer can read.

Why separate from `platform.api.resolver.build_resolver`: partners get Leap's JSON envelope, customers in a browser
must never see JSON or a stack trace. A ConnectProblem becomes its own page and status; anything unexpected
is logged with its trace and answered with a calm 500 page.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from meterhub.connect.pages.views import ErrorView, error_page
from meterhub.connect.use_cases.flow import ConnectProblem
from meterhub.platform.api.transport import SecureRestResolver
from meterhub.platform.observability import logger
from meterhub.platform.web.html import html_response, new_nonce


def problem_page(problem: ConnectProblem, brand: str | None = None) -> Response[str]:
    nonce = new_nonce()
    view = ErrorView(title=problem.title, message=problem.message, retry_url=problem.retry_url)
    return html_response(error_page(view, nonce=nonce, brand=brand), status=problem.status, nonce=nonce)


def build_page_resolver() -> SecureRestResolver:
    app = SecureRestResolver()

    @app.exception_handler(ConnectProblem)
    def connect_problem(problem: ConnectProblem) -> Response[str]:
        logger.info("Connect page refused", extra={"title": problem.title, "status": problem.status})
        return problem_page(problem)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return problem_page(ConnectProblem(404, "Page not found", "This page does not exist."))

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> Response[str]:
        logger.exception("Unhandled error on a Connect page")
        return problem_page(
            ConnectProblem(500, "Something went wrong on our side", "Please try again in a few minutes.")
        )

    return app
