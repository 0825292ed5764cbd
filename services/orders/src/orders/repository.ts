/** The `orders` table. Ids are bigint in SQL and numbers in the API (well below 2^53). */
import type pg from 'pg';

export interface Order {
  readonly id: number;
  readonly userId: number;
  readonly item: string;
  readonly quantity: number;
  readonly createdAt: string;
}

export interface NewOrder {
  readonly userId: number;
  readonly item: string;
  readonly quantity: number;
}

interface OrderRow {
  id: string;
  user_id: string;
  item: string;
  quantity: number;
  created_at: Date;
}

const COLUMNS = 'id, user_id, item, quantity, created_at';

export class OrdersRepository {
  constructor(private readonly db: pg.Pool) {}

  async create(order: NewOrder): Promise<Order> {
    const { rows } = await this.db.query<OrderRow>(
      `insert into orders (user_id, item, quantity) values ($1, $2, $3) returning ${COLUMNS}`,
      [order.userId, order.item, order.quantity],
    );
    return toOrder(rows[0]!);
  }

  /** A user's orders in id order (index orders_user_id_id_idx), at most `limit`. */
  async listByUser(userId: number, limit: number): Promise<Order[]> {
    const { rows } = await this.db.query<OrderRow>(
      `select ${COLUMNS} from orders where user_id = $1 order by id limit $2`,
      [userId, limit],
    );
    return rows.map(toOrder);
  }
}

function toOrder(row: OrderRow): Order {
  return { id: Number(row.id), userId: Number(row.user_id), item: row.item, quantity: row.quantity, createdAt: row.created_at.toISOString() };
}
