export { requireBinary } from '@oppie/test-kit';
