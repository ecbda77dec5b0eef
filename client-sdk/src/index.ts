/**
 * @oppie/client-sdk: the browser and Node SDK a PWA embeds. Its implementation arrives with the SDK issue; until
 * then the package only re-exports the wire protocol so consumers can already type their code against it.
 */
export * from '@oppie/protocol';
