/**
 * POST /users, GET /users/:id, GET /users?limit=&cursor= (docs/reference-system.md, "HTTP").
 * `cursor` is opaque to clients: the base64url of the last id of the previous page.
 */
import { HttpError } from '@berth-example/service-kit';
import type { FastifyPluginAsync } from 'fastify';
import { DuplicateUserError, type UsersRepository } from './repository.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

export const usersRoutes: FastifyPluginAsync<{ repository: UsersRepository }> = async (app, { repository }) => {
  app.post<{ Body: { username: string; email: string } }>('/users', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'email'],
        properties: {
          username: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' },
          email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
        },
      },
      response: { 201: userSchema },
    },
  }, async (request, reply) => {
    try {
      const user = await repository.create(request.body);
      request.log.info({ userId: user.id }, 'user created');
      return reply.status(201).send(user);
    } catch (error) {
      if (error instanceof DuplicateUserError) {
        throw new HttpError(409, 'USER_EXISTS', `a user with this ${error.field} already exists`);
      }
      throw error;
    }
  });

  app.get<{ Params: { id: number } }>('/users/:id', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
      response: { 200: userSchema },
    },
  }, async (request) => {
    const user = await repository.get(request.params.id);
    if (!user) throw new HttpError(404, 'USER_NOT_FOUND', `user ${request.params.id} does not exist`);
    return user;
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/users', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
          cursor: { type: 'string', maxLength: 64 },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { items: { type: 'array', items: userSchema }, nextCursor: { type: ['string', 'null'] } },
        },
      },
    },
  }, async (request) => {
    const afterId = request.query.cursor === undefined ? 0 : decodeCursor(request.query.cursor);
    const page = await repository.list(afterId, request.query.limit);
    const last = page.items.at(-1);
    return { items: page.items, nextCursor: page.hasMore && last ? encodeCursor(last.id) : null };
  });
};

export function encodeCursor(id: number): string {
  return Buffer.from(String(id)).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!/^\d{1,15}$/.test(text)) throw new HttpError(400, 'INVALID_CURSOR', 'cursor is not one this service returned');
  return Number(text);
}
