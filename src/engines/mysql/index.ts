/** MySQL and MariaDB (RDS mysql, mariadb, aurora-mysql): every statement credflow sends them is in this folder. */
export { MYSQL_MAX_USERNAME, MysqlEngine, mysqlEngine } from './engine';
export { grantEntries, type ParsedGrant, parseGrantLine } from './grants';
