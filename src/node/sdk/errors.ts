// The one error of the app API, on both sides: the node answers a request with its `code` and message
// ({"ok":false,"code","error"}, docs/app-api.md), and the SDK rejects with the same code and message.
export class AppApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppApiError';
  }
}
