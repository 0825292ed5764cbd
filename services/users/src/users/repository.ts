/** The `users` table. Ids are bigint in SQL and numbers in the API (well below 2^53). */
import type pg from 'pg';

export interface User {
  readonly id: number;
  readonly username: string;
  readonly email: string;
  readonly createdAt: string;
}

export interface NewUser {
  readonly username: string;
  readonly email: string;
}

/** A unique constraint was violated: which field was taken. */
export class DuplicateUserError extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`${field} is taken`);
    this.name = 'DuplicateUserError';
  }
}

interface UserRow {
  id: string;
  username: string;
  email: string;
  created_at: Date;
}

const COLUMNS = 'id, username, email, created_at';
const UNIQUE_VIOLATION = '23505';
/** Constraint and index names from the migrations, and the field each protects. */
const UNIQUE_FIELDS: Readonly<Record<string, 'username' | 'email'>> = {
  users_username_key: 'username',
  users_email_key: 'email',
  users_email_normalized_key: 'email',
};

export class UsersRepository {
  constructor(private readonly db: pg.Pool) {}

  async create(user: NewUser): Promise<User> {
    try {
      const { rows } = await this.db.query<UserRow>(
        `insert into users (username, email, email_normalized) values ($1, $2, lower($2)) returning ${COLUMNS}`,
        [user.username, user.email],
      );
      return toUser(rows[0]!);
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      const field = code === UNIQUE_VIOLATION && constraint ? UNIQUE_FIELDS[constraint] : undefined;
      if (field) throw new DuplicateUserError(field);
      throw error;
    }
  }

  async get(id: number): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>(`select ${COLUMNS} from users where id = $1`, [id]);
    return rows[0] && toUser(rows[0]);
  }

  /** Keyset pagination: up to `limit` users with an id above `afterId`, in id order. */
  async list(afterId: number, limit: number): Promise<{ items: User[]; hasMore: boolean }> {
    const { rows } = await this.db.query<UserRow>(
      `select ${COLUMNS} from users where id > $1 order by id limit $2`,
      [afterId, limit + 1],
    );
    return { items: rows.slice(0, limit).map(toUser), hasMore: rows.length > limit };
  }
}

function toUser(row: UserRow): User {
  return { id: Number(row.id), username: row.username, email: row.email, createdAt: row.created_at.toISOString() };
}
