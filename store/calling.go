package store

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CallingConfig is a call execution configuration of the Calling API: when a reseller's
// template may call, how it retries, how inbound calls are answered, its rate limit and its
// pre-checks. Every field holds its effective value (defaults applied).
type CallingConfig struct {
	ID                      string         `db:"id"`
	WorkspaceID             uuid.UUID      `db:"workspace_id"`
	ResellerID              string         `db:"reseller_id"`
	Template                string         `db:"template"`
	MerchantID              *string        `db:"merchant_id"`
	InitialOffset           int            `db:"initial_offset"`
	RetryOffset             int            `db:"retry_offset"`
	CallStartTime           string         `db:"call_start_time"`
	CallEndTime             string         `db:"call_end_time"`
	CallTimezone            string         `db:"call_timezone"`
	MaxRetry                int            `db:"max_retry"`
	CallingProvider         string         `db:"calling_provider"`
	EnableCalling           bool           `db:"enable_calling"`
	EnableInternationalCall bool           `db:"enable_international_call"`
	DomesticCountryCode     string         `db:"domestic_country_code"`
	EnableInbound           bool           `db:"enable_inbound"`
	InboundCallStartTime    *string        `db:"inbound_call_start_time"`
	InboundCallEndTime      *string        `db:"inbound_call_end_time"`
	InboundCallTimezone     string         `db:"inbound_call_timezone"`
	InboundBlockAction      string         `db:"inbound_block_action"`
	InboundRedirectNumber   *string        `db:"inbound_redirect_number"`
	InboundBlockMessage     *string        `db:"inbound_block_message"`
	EnforceBlacklist        bool           `db:"enforce_blacklist"`
	RateLimitEnabled        bool           `db:"rate_limit_enabled"`
	RateLimitMaxCalls       *int           `db:"rate_limit_max_calls"`
	RateLimitWindowSeconds  int            `db:"rate_limit_window_seconds"`
	RateLimitWhitelist      pq.StringArray `db:"rate_limit_whitelist"`
	PreChecks               PreChecks      `db:"pre_checks"`
	TelephonyConfig         *JSONObject    `db:"telephony_config"`
	CreatedAt               time.Time      `db:"created_at"`
	UpdatedAt               time.Time      `db:"updated_at"`
}

// PreCheck is a check run before each outbound call (stored as JSON, in the API's shape).
type PreCheck struct {
	Name             string                  `json:"name"`
	Type             string                  `json:"type"`
	Enabled          bool                    `json:"enabled"`
	CredentialID     *string                 `json:"credential_id"`
	HTTPRequest      *PreCheckHTTPRequest    `json:"http_request,omitempty"`
	ResponseConfig   *PreCheckResponseConfig `json:"response_config,omitempty"`
	DefaultOnFailure string                  `json:"default_on_failure"`
}

// PreCheckHTTPRequest is the HTTP call a pre-check makes.
type PreCheckHTTPRequest struct {
	URL         string            `json:"url"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        map[string]any    `json:"body,omitempty"`
	Auth        *PreCheckAuth     `json:"auth,omitempty"`
	QueryParams map[string]string `json:"query_params,omitempty"`
	Timeout     int               `json:"timeout"`
	MaxRetries  int               `json:"max_retries"`
}

// PreCheckAuth is how a pre-check authenticates: bearer token or basic.
type PreCheckAuth struct {
	Type     string `json:"type"`
	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// PreCheckResponseConfig says which answer lets the call proceed.
type PreCheckResponseConfig struct {
	ResponseField      string          `json:"response_field"`
	ResponseFieldValue json.RawMessage `json:"response_field_value"`
}

// callingRow is a configuration as stored: its pre-checks' credentials sealed apart.
type callingRow struct {
	CallingConfig
	Secrets []byte `db:"pre_check_secrets"`
}

// preCheckSecret is what is sealed of one pre-check: its auth's credentials.
type preCheckSecret struct {
	Token    string `json:"token,omitempty"`
	Password string `json:"password,omitempty"`
}

func callingAAD(id string) []byte { return []byte("calling_config:" + id) }

// sealPreChecks splits a configuration's pre-checks into what pre_checks stores (the
// credentials left out) and their credentials sealed, by position (SQL NULL when none has any).
func (s *DB) sealPreChecks(id string, checks PreChecks) (PreChecks, any) {
	stored := make(PreChecks, len(checks))
	secrets := make([]preCheckSecret, len(checks))
	has := false
	for i, pc := range checks {
		stored[i] = pc
		if pc.HTTPRequest == nil || pc.HTTPRequest.Auth == nil {
			continue
		}
		hr, a := *pc.HTTPRequest, *pc.HTTPRequest.Auth
		secrets[i] = preCheckSecret{Token: a.Token, Password: a.Password}
		has = has || a.Token != "" || a.Password != ""
		a.Token, a.Password = "", ""
		hr.Auth = &a
		stored[i].HTTPRequest = &hr
	}
	if !has {
		return stored, nil
	}
	plain, _ := json.Marshal(secrets) //nolint:gosec // G117: the credentials are marshaled only to be sealed just below
	return stored, s.box.Seal(plain, callingAAD(id))
}

// open returns the configuration with its pre-checks' credentials back in place.
func (s *DB) open(r callingRow) (CallingConfig, error) {
	c := r.CallingConfig
	if len(r.Secrets) == 0 {
		return c, nil // none, or stored before they were sealed
	}
	plain, err := s.box.Open(r.Secrets, callingAAD(c.ID))
	if err != nil {
		return c, fmt.Errorf("configuration %s pre-check credentials: %w", c.ID, err)
	}
	var secrets []preCheckSecret
	if err := json.Unmarshal(plain, &secrets); err != nil {
		return c, err
	}
	checks := make(PreChecks, len(c.PreChecks))
	copy(checks, c.PreChecks)
	for i := range checks {
		if i >= len(secrets) || checks[i].HTTPRequest == nil || checks[i].HTTPRequest.Auth == nil {
			continue
		}
		hr, a := *checks[i].HTTPRequest, *checks[i].HTTPRequest.Auth
		a.Token, a.Password = secrets[i].Token, secrets[i].Password
		hr.Auth = &a
		checks[i].HTTPRequest = &hr
	}
	c.PreChecks = checks
	return c, nil
}

// sealPlainPreCheckSecrets seals the pre-check credentials of configurations stored before
// they were sealed (migration 0011), in tx; Migrate runs it.
func (s *DB) sealPlainPreCheckSecrets(ctx context.Context, tx *sqlx.Tx) error {
	var rows []callingRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+callingColumns+`, pre_check_secrets FROM calling_configs
		WHERE pre_check_secrets IS NULL
		  AND jsonb_path_exists(pre_checks, '$[*].http_request.auth ? (exists (@.token) || exists (@.password))')
		FOR UPDATE`); err != nil {
		return err
	}
	for _, r := range rows {
		stored, sealed := s.sealPreChecks(r.ID, r.PreChecks)
		if _, err := tx.ExecContext(ctx, `UPDATE calling_configs SET pre_checks = $2, pre_check_secrets = $3 WHERE id = $1`,
			r.ID, stored, sealed); err != nil {
			return err
		}
	}
	return nil
}

// PreChecks is stored as a jsonb array.
type PreChecks []PreCheck

// Scan reads the jsonb column.
func (p *PreChecks) Scan(src any) error { return scanJSON(src, p) }

// Value writes the jsonb column; nil is an empty array.
func (p PreChecks) Value() (driver.Value, error) {
	if p == nil {
		return "[]", nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

const callingColumns = `id, workspace_id, reseller_id, template, merchant_id, initial_offset, retry_offset,
	call_start_time, call_end_time, call_timezone, max_retry, calling_provider, enable_calling,
	enable_international_call, domestic_country_code, enable_inbound, inbound_call_start_time,
	inbound_call_end_time, inbound_call_timezone, inbound_block_action, inbound_redirect_number,
	inbound_block_message, enforce_blacklist, rate_limit_enabled, rate_limit_max_calls,
	rate_limit_window_seconds, rate_limit_whitelist, pre_checks, telephony_config, created_at, updated_at`

// callingRowColumns are callingColumns and the sealed credentials, for a callingRow.
const callingRowColumns = callingColumns + `, pre_check_secrets`

// newCallingID returns a configuration id in the vendor's style (`cfg_…`), time-ordered like
// every other id here so listing by id lists by creation.
func newCallingID() string {
	id := newID()
	return "cfg_" + hex.EncodeToString(id[:])
}

func callingConfigNotFound(id string) error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("Configuration %s not found", id)}
}

func duplicateCallingConfig(c CallingConfig) error {
	msg := fmt.Sprintf("Duplicate reseller + template combination (reseller_id %s, template %s", c.ResellerID, c.Template)
	if c.MerchantID != nil {
		msg += ", merchant_id " + *c.MerchantID
	}
	return &Error{Kind: ErrConflict, Message: msg + ")"}
}

// CreateCallingConfig stores a new configuration (its ID and timestamps are set here).
// ErrConflict when the workspace has one for the same reseller, template and merchant; the
// unique index decides, so concurrent creates cannot both succeed.
func (s *DB) CreateCallingConfig(ctx context.Context, c CallingConfig) (CallingConfig, error) {
	c.ID = newCallingID()
	checks, secrets := s.sealPreChecks(c.ID, c.PreChecks)
	var out callingRow
	err := s.db.GetContext(ctx, &out, `
		INSERT INTO calling_configs (id, workspace_id, reseller_id, template, merchant_id, initial_offset,
			retry_offset, call_start_time, call_end_time, call_timezone, max_retry, calling_provider,
			enable_calling, enable_international_call, domestic_country_code, enable_inbound,
			inbound_call_start_time, inbound_call_end_time, inbound_call_timezone, inbound_block_action,
			inbound_redirect_number, inbound_block_message, enforce_blacklist, rate_limit_enabled,
			rate_limit_max_calls, rate_limit_window_seconds, rate_limit_whitelist, pre_checks, telephony_config,
			pre_check_secrets)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28, $29, $30)
		RETURNING `+callingRowColumns,
		c.ID, c.WorkspaceID, c.ResellerID, c.Template, c.MerchantID, c.InitialOffset, c.RetryOffset,
		c.CallStartTime, c.CallEndTime, c.CallTimezone, c.MaxRetry, c.CallingProvider, c.EnableCalling,
		c.EnableInternationalCall, c.DomesticCountryCode, c.EnableInbound, c.InboundCallStartTime,
		c.InboundCallEndTime, c.InboundCallTimezone, c.InboundBlockAction, c.InboundRedirectNumber,
		c.InboundBlockMessage, c.EnforceBlacklist, c.RateLimitEnabled, c.RateLimitMaxCalls,
		c.RateLimitWindowSeconds, pq.StringArray(nonNilStrings(c.RateLimitWhitelist)), checks, telephony(c.TelephonyConfig),
		secrets)
	if isUniqueViolation(err, "calling_configs_identity_key") {
		return CallingConfig{}, duplicateCallingConfig(c)
	}
	if err != nil {
		return CallingConfig{}, err
	}
	return s.open(out)
}

func telephony(t *JSONObject) any {
	if t == nil {
		return nil
	}
	return *t
}

// GetCallingConfig returns one of the workspace's configurations, or ErrNotFound.
func (s *DB) GetCallingConfig(ctx context.Context, workspaceID uuid.UUID, id string) (CallingConfig, error) {
	var r callingRow
	err := s.db.GetContext(ctx, &r, `SELECT `+callingRowColumns+` FROM calling_configs WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if noRows(err) {
		return CallingConfig{}, callingConfigNotFound(id)
	}
	if err != nil {
		return CallingConfig{}, err
	}
	return s.open(r)
}

// openAll opens rows (see open).
func (s *DB) openAll(rows []callingRow) ([]CallingConfig, error) {
	out := make([]CallingConfig, 0, len(rows))
	for _, r := range rows {
		c, err := s.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CallingConfigFilter narrows ListCallingConfigs; nil fields do not filter.
type CallingConfigFilter struct {
	ResellerID, Template, MerchantID *string
}

// ListCallingConfigs returns the workspace's configurations matching f, oldest first.
func (s *DB) ListCallingConfigs(ctx context.Context, workspaceID uuid.UUID, f CallingConfigFilter) ([]CallingConfig, error) {
	var rows []callingRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+callingRowColumns+` FROM calling_configs
		WHERE workspace_id = $1
		  AND ($2::text IS NULL OR reseller_id = $2)
		  AND ($3::text IS NULL OR template = $3)
		  AND ($4::text IS NULL OR merchant_id = $4)
		ORDER BY id`, workspaceID, f.ResellerID, f.Template, f.MerchantID)
	if err != nil {
		return nil, err
	}
	return s.openAll(rows)
}

// UpdateCallingConfig changes a configuration with change, which gets the stored row, locked
// until the update commits (so concurrent partial updates do not lose each other's fields), and
// may refuse it by returning an error. Identity, timestamps and id are not written from it.
// ErrNotFound if the workspace has no such configuration.
func (s *DB) UpdateCallingConfig(ctx context.Context, workspaceID uuid.UUID, id string, change func(*CallingConfig) error) (CallingConfig, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (CallingConfig, error) {
		var r callingRow
		err := tx.GetContext(ctx, &r, `SELECT `+callingRowColumns+` FROM calling_configs WHERE workspace_id = $1 AND id = $2
			FOR NO KEY UPDATE`, workspaceID, id)
		if noRows(err) {
			return CallingConfig{}, callingConfigNotFound(id)
		}
		if err != nil {
			return CallingConfig{}, err
		}
		return s.open(r)
	}, change, func(tx *sqlx.Tx, c *CallingConfig) (CallingConfig, error) {
		checks, secrets := s.sealPreChecks(id, c.PreChecks)
		var out callingRow
		err := tx.GetContext(ctx, &out, `
			UPDATE calling_configs SET initial_offset = $3, retry_offset = $4, call_start_time = $5,
				call_end_time = $6, call_timezone = $7, max_retry = $8, calling_provider = $9, enable_calling = $10,
				enable_international_call = $11, domestic_country_code = $12, enable_inbound = $13,
				inbound_call_start_time = $14, inbound_call_end_time = $15, inbound_call_timezone = $16,
				inbound_block_action = $17, inbound_redirect_number = $18, inbound_block_message = $19,
				enforce_blacklist = $20, rate_limit_enabled = $21, rate_limit_max_calls = $22,
				rate_limit_window_seconds = $23, rate_limit_whitelist = $24, pre_checks = $25,
				telephony_config = $26, pre_check_secrets = $27, updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+callingRowColumns,
			workspaceID, id, c.InitialOffset, c.RetryOffset, c.CallStartTime, c.CallEndTime, c.CallTimezone,
			c.MaxRetry, c.CallingProvider, c.EnableCalling, c.EnableInternationalCall, c.DomesticCountryCode,
			c.EnableInbound, c.InboundCallStartTime, c.InboundCallEndTime, c.InboundCallTimezone,
			c.InboundBlockAction, c.InboundRedirectNumber, c.InboundBlockMessage, c.EnforceBlacklist,
			c.RateLimitEnabled, c.RateLimitMaxCalls, c.RateLimitWindowSeconds, pq.StringArray(nonNilStrings(c.RateLimitWhitelist)),
			checks, telephony(c.TelephonyConfig), secrets)
		if err != nil {
			return CallingConfig{}, err
		}
		return s.open(out)
	})
}

// DeleteCallingConfig deletes a configuration (and its rate-limit counters), or ErrNotFound.
func (s *DB) DeleteCallingConfig(ctx context.Context, workspaceID uuid.UUID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM calling_configs WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return changedRow(res, err, func() error { return callingConfigNotFound(id) })
}

// SetCallingEnabled sets enable_calling on the workspace's configurations of a reseller and/or
// merchant (nil = any). It returns the matching configurations as they are afterwards and how
// many of them changed; ErrNotFound when none matches.
func (s *DB) SetCallingEnabled(ctx context.Context, workspaceID uuid.UUID, resellerID, merchantID *string, enabled bool) ([]CallingConfig, int, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	const match = `workspace_id = $1 AND ($2::text IS NULL OR reseller_id = $2) AND ($3::text IS NULL OR merchant_id = $3)`
	res, err := tx.ExecContext(ctx, `UPDATE calling_configs SET enable_calling = $4, updated_at = now()
		WHERE `+match+` AND enable_calling <> $4`, workspaceID, resellerID, merchantID, enabled)
	if err != nil {
		return nil, 0, err
	}
	changed, _ := res.RowsAffected()
	var rows []callingRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+callingRowColumns+` FROM calling_configs WHERE `+match+` ORDER BY id`,
		workspaceID, resellerID, merchantID); err != nil {
		return nil, 0, err
	}
	out, err := s.openAll(rows)
	if err != nil {
		return nil, 0, err
	}
	if len(out) == 0 {
		return nil, 0, &Error{Kind: ErrNotFound, Message: "No call execution config found matching the criteria"}
	}
	return out, int(changed), tx.Commit()
}

// BlacklistEntry is a number the workspace never calls.
type BlacklistEntry struct {
	Number    string    `db:"number"`
	Reason    *string   `db:"reason"`
	CreatedAt time.Time `db:"created_at"`
}

// AddToBlacklist adds numbers to the workspace's blacklist and returns how many were new;
// numbers already on it keep their reason.
func (s *DB) AddToBlacklist(ctx context.Context, workspaceID uuid.UUID, numbers []string, reason *string) (int, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO calling_blacklist (workspace_id, number, reason)
		SELECT $1, n, $3 FROM unnest($2::text[]) AS n ON CONFLICT DO NOTHING`, workspaceID, pq.StringArray(numbers), reason)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ListBlacklist returns the workspace's blacklist in number order.
func (s *DB) ListBlacklist(ctx context.Context, workspaceID uuid.UUID) ([]BlacklistEntry, error) {
	out := []BlacklistEntry{}
	err := s.db.SelectContext(ctx, &out, `SELECT number, reason, created_at FROM calling_blacklist
		WHERE workspace_id = $1 ORDER BY number`, workspaceID)
	return out, err
}

// RemoveFromBlacklist removes a number, or returns ErrNotFound when it is not on the list.
func (s *DB) RemoveFromBlacklist(ctx context.Context, workspaceID uuid.UUID, number string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM calling_blacklist WHERE workspace_id = $1 AND number = $2`, workspaceID, number)
	return changedRow(res, err, func() error {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("Number %s is not on the blacklist", number)}
	})
}

// IsBlacklisted reports whether a number is on the workspace's blacklist.
func (s *DB) IsBlacklisted(ctx context.Context, workspaceID uuid.UUID, number string) (bool, error) {
	var found bool
	err := s.db.GetContext(ctx, &found, `SELECT EXISTS (SELECT 1 FROM calling_blacklist WHERE workspace_id = $1 AND number = $2)`,
		workspaceID, number)
	return found, err
}

// CountCall counts one call in a configuration's fixed window starting at windowStart, unless
// the window already holds max calls. It returns the window's count (this call included when
// counted) and whether the call was counted. One atomic upsert decides, so every server process
// sharing the database shares the limit and concurrent calls never exceed it.
func (s *DB) CountCall(ctx context.Context, configID string, windowStart time.Time, max int) (int, bool, error) {
	var row struct {
		Calls    int  `db:"calls"`
		Inserted bool `db:"inserted"`
	}
	err := s.db.GetContext(ctx, &row, `
		INSERT INTO calling_rate_windows AS w (config_id, window_start, calls) VALUES ($1, $2, 1)
		ON CONFLICT (config_id, window_start) DO UPDATE SET calls = w.calls + 1 WHERE w.calls < $3
		RETURNING calls, (xmax = 0) AS inserted`, configID, windowStart, max)
	if noRows(err) {
		return max, false, nil // the window is full: the conflicting row was left alone
	}
	if err != nil {
		return 0, false, err
	}
	if row.Inserted {
		// The first call of a new window: earlier windows are done with. Best effort; a failure
		// leaves a few rows for the next window to remove.
		_, _ = s.db.ExecContext(ctx, `DELETE FROM calling_rate_windows WHERE config_id = $1 AND window_start < $2`, configID, windowStart)
	}
	return row.Calls, true, nil
}
