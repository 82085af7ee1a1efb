/** PostgreSQL (RDS postgres, aurora-postgresql): every statement credflow sends it is in this folder. */
export { POSTGRES_MAX_NAME_BYTES, PostgresEngine, postgresEngine } from './engine';
