"""The one exception type every service handler raises for an AWS error reply.

Handlers raise AwsError with AWS's own error code and message; the server turns
it into the right envelope for the service (EC2's <Response><Errors>, Query and
REST-XML's <ErrorResponse>), so no handler knows about wire formats.
"""


class AwsError(Exception):
    def __init__(self, code, message, status=400, sender=True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        # Query/REST-XML errors say who is at fault: Sender (4xx) or Receiver (5xx).
        self.sender = sender if status < 500 else False
