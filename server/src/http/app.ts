/**
 * The HTTP side of the relay: fastify with TypeBox schemas, one error shape (`{ code, message }` with a registry code)
 * for every failure, and the OpenAPI document generated from the route schemas.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, isRelayError, RelayError } from '@oppie/protocol';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** The relay's fastify instance (HTTP or HTTPS; typed as HTTP, the handlers do not care). */
export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppOptions {
  readonly logger: Logger;
  readonly trustProxy: boolean;
  readonly https?: { key: Buffer; cert: Buffer } | undefined;
  readonly publicUrl: string;
  readonly version: string;
  /** Origins allowed to call the REST API from a browser; undefined: same origin only. */
  readonly corsOrigins?: readonly string[] | '*' | undefined;
  /** REST bodies are small JSON documents; envelopes travel on the WebSocket. */
  readonly bodyLimit?: number;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    // Query strings may carry `?jwt=`: request logs show the path only.
    loggerInstance: opts.logger.child(
      {},
      {
        serializers: {
          req: (req: { method?: string; url?: string; ip?: string }) => ({
            method: req.method,
            path: req.url?.split('?')[0],
            ip: req.ip,
          }),
        },
      },
    ),
    trustProxy: opts.trustProxy,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    ...(opts.https && { https: opts.https }),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  if (opts.corsOrigins !== undefined) {
    // A PWA served from its own origin calls the relay's REST API cross-origin; tokens travel in the Authorization
    // header, never in cookies, so credentials stay off.
    await app.register(cors, {
      origin: opts.corsOrigins === '*' ? '*' : [...opts.corsOrigins],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      maxAge: 600,
    });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Oppie Relay API',
        version: opts.version,
        description:
          'REST API of the Oppie Relay. WebSocket messages are described by the JSON Schema at /api/schema/envelope.json.',
      },
      servers: [{ url: opts.publicUrl }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });

  app.setErrorHandler((err, request, reply) => {
    if (isRelayError(err)) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      return reply.code(err.status).send(err.toJSON());
    }
    const e = err as { validation?: unknown; statusCode?: number; code?: string; message: string };
    if (e.validation) {
      return reply.code(400).send(new RelayError('RELAY_ERR_BAD_REQUEST', e.message).toJSON());
    }
    if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(new RelayError('RELAY_ERR_PAYLOAD_TOO_LARGE').toJSON());
    }
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send(new RelayError('RELAY_ERR_BAD_REQUEST', e.message).toJSON());
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(new RelayError('RELAY_ERR_INTERNAL').toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(new RelayError('RELAY_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`).toJSON());
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** Standard error responses for route schemas, so the OpenAPI document lists them. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
} as const;
