package main

// The calibration store in Redis, shared by every instance: one key per
// calibration holding a random version and the journal's checksummed
// record (samples and metadata), with an optional time to live (the
// shorter of CALIBRATION_TTL and CALIBRATION_RETENTION: Redis then never
// serves an expired calibration and removes it itself); deletion and the
// listing for the admin routes.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
)

// redisStore keeps calibrations in Redis under prefix+id. A value is a
// version (redisVersionLen hex characters, random, new at every save) then
// the calibration as a journal record (samples as float64 bits behind a
// CRC-32C). A save is one SET (with PX when a TTL is set), so a reader sees
// the old calibration or the new one, never a mix; Version reads only the
// version (GETRANGE), so instances check it before using a cached model.
//
// What a save that returned nil guarantees rests on Redis: the write is in
// the server's memory, and on its disk as its persistence settings say
// (appendonly yes with appendfsync always: before the answer; everysec:
// within a second).
type redisStore struct {
	client *redisClient
	prefix string
	ttl    time.Duration // 0: calibrations never expire
	log    *slog.Logger
}

// redisVersionLen is the length of a stored version: 16 random bytes in hex.
const redisVersionLen = 32

// redisCalibrationPrefix starts every calibration key.
const redisCalibrationPrefix = "eyetrack:calibration:"

// errStoreFull is returned by a save that the store refused for lack of
// room (Redis over its maxmemory with a no-eviction policy).
var errStoreFull = errors.New("the calibration store is full")

// newRedisStore connects to the server (a PING, to fail at start on a
// wrong address, password or database) and returns the store.
func newRedisStore(o redisOptions, ttl time.Duration, log *slog.Logger) (*redisStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &redisStore{client: newRedisClient(o), prefix: redisCalibrationPrefix, ttl: ttl, log: log}
	ctx, cancel := context.WithTimeout(context.Background(), o.dialTimeout+o.writeTimeout+o.readTimeout)
	defer cancel()
	if _, err := s.client.do(ctx, "PING"); err != nil {
		s.client.Close()
		return nil, fmt.Errorf("calibration store: %w", err)
	}
	return s, nil
}

// MaxIDLength is what the record format allows (its id length is 16 bits).
func (s *redisStore) MaxIDLength() int { return math.MaxUint16 }

// Save stores c under id with a new version, replacing what was there.
func (s *redisStore) Save(id string, c calibration) error {
	if len(id) > s.MaxIDLength() {
		return fmt.Errorf("%w: %d bytes, at most %d", errIDTooLong, len(id), s.MaxIDLength())
	}
	var v [redisVersionLen / 2]byte
	if _, err := rand.Read(v[:]); err != nil {
		return fmt.Errorf("a version for calibration %q: %w", id, err)
	}
	if c.Meta.Created.IsZero() {
		c.Meta.Created = time.Now()
	}
	rec := encodeJournalRecord(c.Meta.Created, id, c)
	value := make([]byte, 0, redisVersionLen+len(rec))
	value = append(hex.AppendEncode(value, v[:]), rec...)
	args := []any{"SET", s.prefix + id, value}
	if s.ttl > 0 {
		args = append(args, "PX", s.ttl.Milliseconds())
	}
	if _, err := s.client.do(context.Background(), args...); err != nil {
		var rerr redisError
		if errors.As(err, &rerr) && strings.HasPrefix(string(rerr), "OOM") {
			err = fmt.Errorf("%w: %w", errStoreFull, err)
		}
		return fmt.Errorf("saving calibration %q: %w", id, err)
	}
	return nil
}

// Load reads the calibration stored under id.
func (s *redisStore) Load(id string) (calibration, error) {
	rep, err := s.client.do(context.Background(), "GET", s.prefix+id)
	if err != nil {
		return calibration{}, fmt.Errorf("reading calibration %q: %w", id, err)
	}
	if rep.null {
		return calibration{}, fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	damaged := func(why string) (calibration, error) {
		return calibration{}, &unusableError{id: id, reason: "its stored value is damaged: " + why}
	}
	if len(rep.str) < redisVersionLen {
		return damaged("too short")
	}
	recs := parseJournal(rep.str[redisVersionLen:])
	if len(recs) != 1 || recs[0].id != id {
		return damaged("its record fails its checksum or names another id")
	}
	return recs[0].cal, nil
}

// Version returns the version stored with id's calibration.
func (s *redisStore) Version(id string) (string, error) {
	rep, err := s.client.do(context.Background(), "GETRANGE", s.prefix+id, 0, redisVersionLen-1)
	if err != nil {
		return "", fmt.Errorf("reading the version of calibration %q: %w", id, err)
	}
	if len(rep.str) == 0 {
		return "", fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	return string(rep.str), nil
}

// Close closes the connections.
func (s *redisStore) Close() error { return s.client.Close() }

// Meta returns the metadata saved with id's calibration.
func (s *redisStore) Meta(id string) (calibrationMeta, error) {
	c, err := s.Load(id)
	return c.Meta, err
}

// Delete removes id's calibration (DEL): 204 when Redis has applied it, as
// durable as its persistence settings make it.
func (s *redisStore) Delete(id string) error {
	rep, err := s.client.do(context.Background(), "DEL", s.prefix+id)
	if err != nil {
		return fmt.Errorf("deleting calibration %q: %w", id, err)
	}
	if rep.int == 0 {
		return fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	return nil
}

// ids returns the id of every calibration key (SCAN over the prefix),
// sorted.
func (s *redisStore) ids() ([]string, error) {
	var ids []string
	cursor := "0"
	for {
		rep, err := s.client.do(context.Background(), "SCAN", cursor, "MATCH", escapeRedisPattern(s.prefix)+"*", "COUNT", 1000)
		if err != nil {
			return nil, fmt.Errorf("listing calibrations: %w", err)
		}
		if len(rep.array) != 2 {
			return nil, errors.New("listing calibrations: SCAN answered an unexpected reply")
		}
		for _, k := range rep.array[1].array {
			ids = append(ids, strings.TrimPrefix(string(k.str), s.prefix))
		}
		if cursor = string(rep.array[0].str); cursor == "0" {
			break
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil // SCAN may return a key twice
}

// escapeRedisPattern quotes the glob characters of a MATCH pattern.
func escapeRedisPattern(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// DeleteUser deletes every calibration saved with user_id userID. It reads
// every calibration: a lab's store, not a large one, is what it is for.
func (s *redisStore) DeleteUser(userID string) ([]string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	return deleteUserOf(ids, userID, s.Meta, s.Delete)
}

// List returns up to limit calibrations after the id after, in id order.
func (s *redisStore) List(after string, limit int) ([]calibrationInfo, string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, "", err
	}
	page, next := listPage(ids, after, limit, s.Load)
	return page, next, nil
}

// Ready reports whether Redis answers.
func (s *redisStore) Ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.client.do(ctx, "PING"); err != nil {
		return errors.New("the calibration store's Redis does not answer")
	}
	return nil
}
