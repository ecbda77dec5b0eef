/**
 * @oppie/sidecar-sdk: the Node SDK a sidecar daemon embeds. Its implementation arrives with the SDK issue; until
 * then the package only re-exports the wire protocol so consumers can already type their code against it.
 */
export * from '@oppie/protocol';
