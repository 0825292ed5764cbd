/**
 * POST /orders, GET /orders?userId= (docs/reference-system.md, "HTTP"). Creating an order first
 * asks the users service whether the user exists: unknown → 422 USER_NOT_FOUND, no answer → 503
 * USERS_UNAVAILABLE.
 */
import { HttpError } from '@berth-example/service-kit';
import type { FastifyPluginAsync } from 'fastify';
import { UsersUnavailableError, type UsersClient } from '../users-client/users-client.js';
import type { OrdersRepository } from './repository.js';

export const MAX_ORDERS_PER_LIST = 100;

const orderSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    userId: { type: 'integer' },
    item: { type: 'string' },
    quantity: { type: 'integer' },
    createdAt: { type: 'string' },
  },
} as const;

export const ordersRoutes: FastifyPluginAsync<{ repository: OrdersRepository; users: UsersClient }> = async (app, { repository, users }) => {
  app.post<{ Body: { userId: number; item: string; quantity: number } }>('/orders', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['userId', 'item', 'quantity'],
        properties: {
          userId: { type: 'integer', minimum: 1 },
          item: { type: 'string', minLength: 1, maxLength: 200 },
          quantity: { type: 'integer', minimum: 1, maximum: 10_000 },
        },
      },
      response: { 201: orderSchema },
    },
  }, async (request, reply) => {
    const { userId } = request.body;
    let exists: boolean;
    try {
      exists = await users.userExists(userId, { requestId: request.id, log: request.log });
    } catch (error) {
      if (error instanceof UsersUnavailableError) throw new HttpError(503, 'USERS_UNAVAILABLE', error.message);
      throw error;
    }
    if (!exists) throw new HttpError(422, 'USER_NOT_FOUND', `user ${userId} does not exist`);
    const order = await repository.create(request.body);
    request.log.info({ orderId: order.id, userId }, 'order created');
    return reply.status(201).send(order);
  });

  app.get<{ Querystring: { userId: number; limit: number } }>('/orders', {
    schema: {
      querystring: {
        type: 'object',
        required: ['userId'],
        properties: {
          userId: { type: 'integer', minimum: 1 },
          limit: { type: 'integer', minimum: 1, maximum: MAX_ORDERS_PER_LIST, default: MAX_ORDERS_PER_LIST },
        },
      },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: orderSchema } } } },
    },
  }, async (request) => ({ items: await repository.listByUser(request.query.userId, request.query.limit) }));
};
