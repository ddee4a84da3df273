// Errors of the signal protocol. Callers switch on `.code`; the message is one line for humans.

export type SignalErrorCode =
  | 'not_registered' // no client with that id is connected
  | 'timeout' // the client did not answer in time
  | 'busy' // a request with the same op is already outstanding for that client
  | 'closed' // the connection (or the server) closed before the answer came
  | 'bad_response'; // the client answered with a body of the wrong shape

export class SignalError extends Error {
  constructor(
    readonly code: SignalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignalError';
  }
}

export type FrameErrorCode = 'too_large' | 'unknown_type' | 'bad_body';

/** A byte stream that breaks the wire format; the connection that sent it is closed. */
export class SignalFrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignalFrameError';
  }
}
