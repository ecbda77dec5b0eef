import { OtpEnrollResponse, OtpVerifyRequest, TokenResponse } from '@oppie/protocol';
import type { App } from '../app.js';
import { errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';
import { type AuthRouteDeps, authLimit, bearerSecurity } from './deps.js';

/**
 * OTP step-up routes.
 *
 * @example
 * registerOtpRoutes(app, { auth, config, online });
 */
export function registerOtpRoutes(app: App, deps: AuthRouteDeps): void {
  const onRequest = authLimit(deps);

  app.post(
    '/api/auth/otp/enroll',
    {
      onRequest,
      schema: {
        tags: ['otp'],
        summary: 'A new TOTP secret for the caller account, pending until a first code verifies.',
        security: bearerSecurity,
        response: { 200: OtpEnrollResponse, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      return deps.auth.enrollOtp(claims, { ip: request.ip });
    },
  );

  app.post(
    '/api/auth/otp/verify',
    {
      onRequest,
      schema: {
        tags: ['otp'],
        summary: 'Verifies a TOTP code; answers with a token carrying a fresh step-up claim.',
        security: bearerSecurity,
        body: OtpVerifyRequest,
        response: { 200: TokenResponse, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      return deps.auth.verifyOtp(claims, request.body.code, { ip: request.ip });
    },
  );
}
