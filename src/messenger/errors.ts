// The one error type of the messenger client: `.code` says what happened, in words a caller can switch on.

export type MessengerErrorCode =
  | 'offline' // the key is not connected to any messenger tried
  | 'too_large' // datagram over the messenger's limit
  | 'rate_limited' // this connection sends datagrams faster than its token bucket allows
  | 'congested' // the recipient's connection is not reading; try later
  | 'refused' // nobody listens on that port at the key
  | 'limit' // a messenger cap was reached (streams, entries)
  | 'reset' // the far end destroyed the stream
  | 'peer_gone' // the far end's connection to the messenger dropped
  | 'disconnected' // our own connection to the messenger dropped
  | 'not_connected' // no messenger connection is up
  | 'timeout' // no answer in time
  | 'bad_request' // the messenger rejected our input
  | 'protocol_error'
  | 'replaced'
  | 'shutdown'
  | 'unsupported'
  | 'internal'
  | 'closed' // the client was closed
  | 'unknown';

export class MessengerError extends Error {
  constructor(
    readonly code: MessengerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MessengerError';
  }
}
