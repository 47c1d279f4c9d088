package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Dump is every row of every table, one line a row, in a stable order: what
// tests compare to show that a refused request changed nothing, and what a
// person reads to see the state.
func (s *Store) Dump(ctx context.Context) (string, error) { return dump(ctx, s.rdb) }

// DumpFile is Dump of a database file, read through a read-only connection
// of its own (the service may hold it open).
func DumpFile(ctx context.Context, path string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	return dump(ctx, db)
}

func dump(ctx context.Context, db *sql.DB) (string, error) {
	var b strings.Builder
	for _, table := range []string{"users", "reservations", "results", "audit"} {
		rows, err := db.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY 1`)
		if err != nil {
			return "", fmt.Errorf("dumping %s: %w", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", fmt.Errorf("dumping %s: %w", table, err)
			}
			b.WriteString(table)
			for _, v := range vals {
				if v == nil {
					v = "NULL"
				} else if raw, ok := v.([]byte); ok {
					v = string(raw)
				}
				fmt.Fprintf(&b, "|%v", v)
			}
			b.WriteString("\n")
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return "", fmt.Errorf("dumping %s: %w", table, err)
		}
	}
	return b.String(), nil
}
