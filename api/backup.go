package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// BackupContentType is the media type of GET /v1/backup: a bbolt file.
const BackupContentType = "application/vnd.posagent.bbolt"

// backup streams a consistent copy of the database (GET /v1/backup): one
// bbolt read transaction, written page by page with tx.WriteTo, so
// checkouts keep being journaled while the copy is made and the copy is the
// database as of one instant. Content-Length is the file's size; a reply
// cut short is therefore detectable by the client.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if s.cfg.DB == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "this posagent has no database to back up"))
		return
	}
	err := s.cfg.DB.View(func(tx *bolt.Tx) error {
		w.Header().Set("Content-Type", BackupContentType)
		w.Header().Set("Content-Length", strconv.FormatInt(tx.Size(), 10))
		w.Header().Set("Content-Disposition", `attachment; filename="posagent.db"`)
		w.Header().Set("Cache-Control", "no-store")
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		// The status line is gone already; the short body tells the client.
		s.log.Error().Str("event", "backup_failed").Err(err).Msg("GET /v1/backup was cut short")
		return
	}
	s.log.Info().Str("event", "backup").Str("remote", r.RemoteAddr).Msg("database copied for a backup")
}

// Backup writes a consistent copy of the daemon's database to w (GET
// /v1/backup) and returns its size. It fails when the copy arrives short.
// No time limit but ctx: a large database may take a while.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, &NotRunningError{Addr: req.URL.Host, Err: err}
		}
		return 0, fmt.Errorf("GET /v1/backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, replyError(resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != BackupContentType {
		return 0, fmt.Errorf("GET /v1/backup: the reply is %q, not a posagent database (is another program on the port?)", ct)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET /v1/backup: after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET /v1/backup: got %d of %d bytes; the daemon stopped the copy (see its log)", n, resp.ContentLength)
	}
	return n, nil
}
