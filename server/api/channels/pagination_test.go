package channels_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/switchboard-dev/switchboard/gen/channelsclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// walk lists every page with params (PageToken is set here) and returns the ids in the order
// received; between pages it calls between (may be nil).
func walk(t *testing.T, c *channelsclient.ClientWithResponses, ws uuid.UUID, params channelsclient.ListChannelsParams, between func()) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("the walk does not end")
		}
		res, err := c.ListChannelsWithResponse(ctx, ws, &params)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("page %d: %v %s", pages, err, res.Body)
		}
		limit := 10
		if params.Limit != nil {
			limit = *params.Limit
		}
		if len(res.JSON200.Results) > limit {
			t.Fatalf("page %d has %d results, limit %d", pages, len(res.JSON200.Results), limit)
		}
		for _, ch := range res.JSON200.Results {
			ids = append(ids, ch.Id)
		}
		if res.JSON200.NextPageToken == nil {
			return ids
		}
		if len(res.JSON200.Results) != limit {
			t.Fatalf("page %d has %d results and a next page", pages, len(res.JSON200.Results))
		}
		params.PageToken = res.JSON200.NextPageToken
		if between != nil {
			between()
		}
	}
}

// TestPaginationUnderChurn walks all pages, both ways, while channels are created and deleted
// between pages and concurrently: no channel comes twice, and every channel that existed for
// the whole walk comes, in order.
func TestPaginationUnderChurn(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Channels(t, key)
	create := func(name string) uuid.UUID {
		return newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "sms", Name: name}).Id
	}
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			// Stable channels exist for the whole walk; doomed ones are deleted during it,
			// interleaved with the stable ones so deletions land before and after the cursor.
			var stable, doomed []uuid.UUID
			for i := range 45 {
				stable = append(stable, create(fmt.Sprint("stable ", i)))
				if i%3 == 0 {
					doomed = append(doomed, create(fmt.Sprint("doomed ", i)))
				}
			}
			var mu sync.Mutex
			next := 0
			between := func() {
				create("between")
				mu.Lock()
				defer mu.Unlock()
				if next < len(doomed) {
					if res, _ := c.DeleteChannelWithResponse(ctx, ws, doomed[next]); res.StatusCode() != 204 {
						t.Errorf("delete: %d", res.StatusCode())
					}
					next++
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // concurrent churn while pages are read
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := create(fmt.Sprint("concurrent ", i))
					if i%2 == 0 {
						deleteChannel(t, c, ws, id)
					}
				}
			}()
			ids := walk(t, c, ws, channelsclient.ListChannelsParams{Limit: ptr(7), Reverse: &reverse}, between)
			close(stop)
			wg.Wait()

			seen := map[uuid.UUID]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Errorf("%s listed twice", id)
				}
				seen[id] = true
			}
			for _, id := range stable {
				if !seen[id] {
					t.Errorf("stable channel %s skipped", id)
				}
			}
			sorted := slices.IsSortedFunc(ids, func(a, b uuid.UUID) int {
				if reverse {
					a, b = b, a
				}
				return slices.Compare(a[:], b[:])
			})
			if !sorted {
				t.Errorf("ids are not in %v order", map[bool]string{false: "ascending", true: "descending"}[reverse])
			}
			if next == 0 {
				t.Error("the walk had a single page: nothing was deleted during it")
			}
			// Clean up for the other direction's run.
			for _, id := range append(stable, doomed...) {
				deleteChannel(t, c, ws, id)
			}
		})
	}
}

// TestPageSizes: default 10, the given limit, and 1000 at most.
func TestPageSizes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Channels(t, key)
	var all []uuid.UUID
	for i := range 12 {
		all = append(all, newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "sms", Name: fmt.Sprint(i)}).Id)
	}
	res, _ := c.ListChannelsWithResponse(ctx, ws, nil)
	if res.JSON200 == nil || len(res.JSON200.Results) != 10 || res.JSON200.NextPageToken == nil {
		t.Fatalf("default page: %s", res.Body)
	}
	res, _ = c.ListChannelsWithResponse(ctx, ws, &channelsclient.ListChannelsParams{Limit: ptr(1000)})
	if res.JSON200 == nil || len(res.JSON200.Results) != 12 || res.JSON200.NextPageToken != nil {
		t.Fatalf("limit 1000: %s", res.Body)
	}
	// limit may change between pages; reverse gives the newest first.
	first, _ := c.ListChannelsWithResponse(ctx, ws, &channelsclient.ListChannelsParams{Limit: ptr(5), Reverse: ptr(true)})
	rest, _ := c.ListChannelsWithResponse(ctx, ws, &channelsclient.ListChannelsParams{Limit: ptr(100), Reverse: ptr(true), PageToken: first.JSON200.NextPageToken})
	var got []uuid.UUID
	for _, ch := range append(first.JSON200.Results, rest.JSON200.Results...) {
		got = append(got, ch.Id)
	}
	slices.Reverse(all)
	if !slices.Equal(got, all) {
		t.Errorf("reverse walk %v, want %v", got, all)
	}
}

// TestFilters creates channels differing in each filtered field and checks every documented
// filter, alone, repeated and combined, on one page and across pages.
func TestFilters(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Channels(t, key)
	type fixture struct {
		id       uuid.UUID
		platform string
		status   channelsclient.ChannelStatus
		useCase  string
		voice    bool
	}
	var fs []fixture
	platforms := []string{"whatsapp", "sms-messagebird", "email"}
	statuses := []channelsclient.WritableChannelStatus{channelsclient.WritableChannelStatusActive, channelsclient.WritableChannelStatusInactive, channelsclient.WritableChannelStatusPending}
	useCases := []channelsclient.UseCaseType{channelsclient.UseCaseTypeTransactional, channelsclient.UseCaseTypeMarketing}
	for i := range 18 {
		body := channelsclient.ChannelCreate{PlatformId: platforms[i%3], Name: fmt.Sprint(i), Status: &statuses[i/6%3]}
		f := fixture{platform: platforms[i%3], status: channelsclient.ChannelStatus(statuses[i/6%3])}
		if i%4 != 3 {
			body.UseCaseType = nullable.NewNullableWithValue(channelsclient.NullableUseCaseType(useCases[i%2]))
			f.useCase = string(useCases[i%2])
		}
		if i%5 == 0 {
			body.Capabilities = &channelsclient.ChannelCapabilities{Voice: &channelsclient.VoiceCapabilities{Voice: &channelsclient.VoiceCapability{Name: ptr("voice")}}}
			f.voice = true
		}
		f.id = newChannel(t, c, ws, body).Id
		fs = append(fs, f)
	}
	// Two deleted channels, which only a status filter naming deleted shows.
	for _, i := range []int{1, 8} {
		deleteChannel(t, c, ws, fs[i].id)
		fs[i].status = channelsclient.ChannelStatusDeleted
	}
	expect := func(keep func(fixture) bool) []uuid.UUID {
		var ids []uuid.UUID
		for _, f := range fs {
			if keep(f) {
				ids = append(ids, f.id)
			}
		}
		return ids
	}
	live := func(f fixture) bool { return f.status != channelsclient.ChannelStatusDeleted }
	cases := []struct {
		name   string
		params channelsclient.ListChannelsParams
		want   []uuid.UUID
	}{
		{"none", channelsclient.ListChannelsParams{}, expect(live)},
		{"platform", channelsclient.ListChannelsParams{Platform: &[]string{"whatsapp"}},
			expect(func(f fixture) bool { return live(f) && f.platform == "whatsapp" })},
		{"platforms", channelsclient.ListChannelsParams{Platform: &[]string{"email", "sms-messagebird"}},
			expect(func(f fixture) bool { return live(f) && f.platform != "whatsapp" })},
		{"status", channelsclient.ListChannelsParams{Status: &[]channelsclient.ChannelStatus{channelsclient.ChannelStatusInactive}},
			expect(func(f fixture) bool { return f.status == channelsclient.ChannelStatusInactive })},
		{"statuses with deleted", channelsclient.ListChannelsParams{Status: &[]channelsclient.ChannelStatus{channelsclient.ChannelStatusDeleted, channelsclient.ChannelStatusPending}},
			expect(func(f fixture) bool {
				return f.status == channelsclient.ChannelStatusDeleted || f.status == channelsclient.ChannelStatusPending
			})},
		{"useCaseType", channelsclient.ListChannelsParams{UseCaseType: ptr(channelsclient.UseCaseTypeMarketing)},
			expect(func(f fixture) bool { return live(f) && f.useCase == "marketing" })},
		{"channelIds", channelsclient.ListChannelsParams{ChannelIds: &[]uuid.UUID{fs[2].id, fs[9].id, fs[1].id}},
			expect(func(f fixture) bool { return live(f) && (f.id == fs[2].id || f.id == fs[9].id || f.id == fs[1].id) })},
		{"conferencial", channelsclient.ListChannelsParams{Conferencial: ptr(true)},
			expect(func(f fixture) bool { return live(f) && f.voice })},
		{"onlyMyChannels", channelsclient.ListChannelsParams{OnlyMyChannels: ptr(true)}, expect(live)},
		{"combined", channelsclient.ListChannelsParams{Platform: &[]string{"whatsapp", "email"}, UseCaseType: ptr(channelsclient.UseCaseTypeTransactional),
			Status: &[]channelsclient.ChannelStatus{channelsclient.ChannelStatusActive, channelsclient.ChannelStatusPending}},
			expect(func(f fixture) bool {
				return f.platform != "sms-messagebird" && f.useCase == "transactional" &&
					(f.status == channelsclient.ChannelStatusActive || f.status == channelsclient.ChannelStatusPending)
			})},
	}
	for _, tc := range cases {
		if len(tc.want) == 0 && tc.name != "none" {
			t.Fatalf("%s: the fixtures give no match; the case tests nothing", tc.name)
		}
		sortIDs(tc.want)
		one := tc.params
		one.Limit = ptr(1000)
		got := walk(t, c, ws, one, nil)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %d channels %v, want %d %v", tc.name, len(got), got, len(tc.want), tc.want)
		}
		paged := tc.params
		paged.Limit = ptr(2)
		if got := walk(t, c, ws, paged, nil); !slices.Equal(got, tc.want) {
			t.Errorf("%s, 2 a page: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func sortIDs(ids []uuid.UUID) {
	sort.Slice(ids, func(i, j int) bool { return slices.Compare(ids[i][:], ids[j][:]) < 0 })
}

// TestPageTokensRefused: forged, altered, another workspace's and another filter set's tokens
// are 400s in the documented shape, never another workspace's data.
func TestPageTokensRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	ws2, key2 := env.Workspace(t, "*")
	c, c2 := env.Channels(t, key), env.Channels(t, key2)
	for i := range 3 {
		newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "sms", Name: fmt.Sprint(i)})
		newChannel(t, c2, ws2, channelsclient.ChannelCreate{PlatformId: "sms", Name: fmt.Sprint(i)})
	}
	page := func(c *channelsclient.ClientWithResponses, ws uuid.UUID, p channelsclient.ListChannelsParams) string {
		res, _ := c.ListChannelsWithResponse(ctx, ws, &p)
		if res.JSON200 == nil || res.JSON200.NextPageToken == nil {
			t.Fatalf("no next page: %s", res.Body)
		}
		return *res.JSON200.NextPageToken
	}
	mine := page(c, ws, channelsclient.ListChannelsParams{Limit: ptr(1)})
	foreign := page(c2, ws2, channelsclient.ListChannelsParams{Limit: ptr(1)})
	raw, _ := base64.RawURLEncoding.DecodeString(mine)
	altered := append([]byte(nil), raw...)
	altered[3] ^= 0x40
	refused := map[string]struct {
		token  string
		params channelsclient.ListChannelsParams
	}{
		"forged":            {base64.RawURLEncoding.EncodeToString(make([]byte, 33)), channelsclient.ListChannelsParams{}},
		"altered":           {base64.RawURLEncoding.EncodeToString(altered), channelsclient.ListChannelsParams{}},
		"garbage":           {"not a token at all", channelsclient.ListChannelsParams{}},
		"foreign workspace": {foreign, channelsclient.ListChannelsParams{}},
		"other filters":     {mine, channelsclient.ListChannelsParams{Platform: &[]string{"sms"}}},
		"other direction":   {mine, channelsclient.ListChannelsParams{Reverse: ptr(true)}},
	}
	for name, r := range refused {
		p := r.params
		p.PageToken = &r.token
		res, err := c.ListChannelsWithResponse(ctx, ws, &p)
		if err != nil || res.JSON400 == nil || res.JSON400.Code != "InvalidRequest" || len((*res.JSON400.Details)["query.pageToken"]) == 0 {
			t.Errorf("%s: %d %s", name, res.StatusCode(), res.Body)
		}
	}
	// The same token with the same filters (limit aside) works.
	if res, _ := c.ListChannelsWithResponse(ctx, ws, &channelsclient.ListChannelsParams{PageToken: &mine, Limit: ptr(5)}); res.JSON200 == nil || len(res.JSON200.Results) != 2 {
		t.Errorf("own token: %s", res.Body)
	}
	// Equal filter sets in another order share tokens.
	a := page(c, ws, channelsclient.ListChannelsParams{Limit: ptr(1), Status: &[]channelsclient.ChannelStatus{"active", "pending"}})
	q := url.Values{"pageToken": {a}, "status": {"pending", "active", "pending"}}
	if status, body := env.Do(t, "GET", "/workspaces/"+ws.String()+"/channels?"+q.Encode(), "", "Authorization", "AccessKey "+key); status != 200 {
		t.Errorf("same filters reordered: %d %s", status, body)
	}
	// A channels token is not a contacts token.
	if res, _ := c.ListContactsWithResponse(ctx, ws, &channelsclient.ListContactsParams{PageToken: &mine}); res.JSON400 == nil {
		t.Errorf("channels token on contacts: %d %s", res.StatusCode(), res.Body)
	}
}
