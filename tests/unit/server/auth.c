/* Tests for server/auth.c and pam.c: keys, tickets, CSRF tokens, API tokens,
 * logins (pve and pam realms), identification, checks and the first-start
 * admin, over a real LMDB store and key files in a temp dir. */
#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_int.h"
#include "server/password.h"
#include "server/store.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	struct app app;
	struct auth *auth;
	char keydir[512];
};

static void setup(struct fixture *f, const char *name)
{
	char dir[512], err[256];

	memset(f, 0, sizeof(*f));
	snprintf(dir, sizeof(dir), "%s/%s/db", test_tmpdir(), name);
	CHECK_INT(store_open(dir, &f->app.store, err, sizeof(err)), 0);
	snprintf(f->keydir, sizeof(f->keydir), "%s/%s/certs", test_tmpdir(), name);
	CHECK_INT(auth_new(&f->app, f->keydir, &f->auth, err, sizeof(err)), 0);
	f->app.auth = f->auth;
}

static void teardown(struct fixture *f)
{
	auth_free(f->auth);
	store_close(f->app.store);
}

static void put_json(struct fixture *f, enum store_db db, const char *key, const char *json)
{
	struct store_txn *t;
	cJSON *v = cJSON_Parse(json);

	CHECK(v != NULL);
	CHECK_INT(store_begin(f->app.store, 0, &t), 0);
	CHECK_INT(store_put(t, db, key, v), 0);
	CHECK_INT(acl_touch(t), 0);
	CHECK_INT(store_commit(t), 0);
	cJSON_Delete(v);
}

/* A pve-realm user with a cheap hash (tests need no real cost). */
static void add_user(struct fixture *f, const char *userid, const char *pw, int enable)
{
	char hash[PASSWORD_HASH_MAX], json[512];

	CHECK_INT(password_hash_cost(pw, 4, 1, 1, hash, sizeof(hash)), 0);
	snprintf(json, sizeof(json), "{\"enable\":%d,\"expire\":0,\"hash\":\"%s\"}", enable, hash);
	put_json(f, DB_USERS, userid, json);
}

static void test_ticket_round_trip(void)
{
	struct fixture f;
	char t[AUTH_TICKET_MAX], user[128];
	time_t now = 1700000000;

	setup(&f, "ticket");
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", now, t, sizeof(t)), 0);
	CHECK(strncmp(t, "PVE:alice@pve:6553F100::", 24) == 0);
	CHECK_INT(auth_ticket_verify(f.auth, t, now, user, sizeof(user)), 0);
	CHECK_STR(user, "alice@pve");
	/* 2 h lifetime; 5 min grace for clocks ahead. */
	CHECK_INT(auth_ticket_verify(f.auth, t, now + 7199, user, sizeof(user)), 0);
	CHECK_INT(auth_ticket_verify(f.auth, t, now + 7200, user, sizeof(user)), CR_EAUTH);
	CHECK_INT(auth_ticket_verify(f.auth, t, now - 299, user, sizeof(user)), 0);
	CHECK_INT(auth_ticket_verify(f.auth, t, now - 300, user, sizeof(user)), CR_EAUTH);
	teardown(&f);
}

static void test_ticket_tampered(void)
{
	struct fixture f;
	char t[AUTH_TICKET_MAX], forged[AUTH_TICKET_MAX], user[128];
	time_t now = 1700000000;
	char *sig;

	setup(&f, "tamper");
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", now, t, sizeof(t)), 0);
	/* Another user's name under alice's signature. */
	snprintf(forged, sizeof(forged), "PVE:admin@pve%s", t + strlen("PVE:alice@pve"));
	CHECK_INT(auth_ticket_verify(f.auth, forged, now, user, sizeof(user)), CR_EAUTH);
	/* A later time stamp. */
	snprintf(forged, sizeof(forged), "%s", t);
	forged[strlen("PVE:alice@pve:6553F1")] = '9';
	CHECK_INT(auth_ticket_verify(f.auth, forged, now, user, sizeof(user)), CR_EAUTH);
	/* One flipped signature character. */
	snprintf(forged, sizeof(forged), "%s", t);
	sig = strstr(forged, "::") + 10;
	*sig = *sig == 'A' ? 'B' : 'A';
	CHECK_INT(auth_ticket_verify(f.auth, forged, now, user, sizeof(user)), CR_EAUTH);
	/* Shapes that are not tickets at all. */
	CHECK_INT(auth_ticket_verify(f.auth, "", now, user, sizeof(user)), CR_EAUTH);
	CHECK_INT(auth_ticket_verify(f.auth, "PVE:alice@pve:6553F100::", now, user, sizeof(user)),
		  CR_EAUTH);
	CHECK_INT(auth_ticket_verify(f.auth, "PVE:::", now, user, sizeof(user)), CR_EAUTH);
	CHECK_INT(auth_ticket_verify(f.auth, "PVE:a@pve:6553f100::AAAA", now, user, sizeof(user)),
		  CR_EAUTH);
	CHECK_INT(auth_ticket_verify(f.auth, NULL, now, user, sizeof(user)), CR_EAUTH);
	teardown(&f);
}

static void test_ticket_escaping(void)
{
	struct fixture f;
	char t[AUTH_TICKET_MAX], user[128];
	time_t now = 1700000000;

	setup(&f, "escape");
	/* ':' separates the fields, so it travels escaped; '%' too, to keep the
	 * escape reversible. */
	CHECK_INT(auth_ticket_make(f.auth, "a:b@pve", now, t, sizeof(t)), 0);
	CHECK(strncmp(t, "PVE:a%3Ab@pve:6553F100::", 24) == 0);
	/* It verifies, but a user id with ':' is not a valid one. */
	CHECK_INT(auth_ticket_verify(f.auth, t, now, user, sizeof(user)), CR_EAUTH);
	CHECK_INT(auth_ticket_make(f.auth, "50%3A@pve", now, t, sizeof(t)), 0);
	CHECK(strncmp(t, "PVE:50%253A@pve:", 16) == 0);
	CHECK_INT(auth_ticket_verify(f.auth, t, now, user, sizeof(user)), 0);
	CHECK_STR(user, "50%3A@pve");
	teardown(&f);
}

static void test_keys_persist(void)
{
	struct fixture f;
	struct auth *again = NULL;
	char t[AUTH_TICKET_MAX], user[128], path[600], err[256];
	struct stat st;
	time_t now = 1700000000;

	setup(&f, "keys");
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", now, t, sizeof(t)), 0);
	CHECK_INT(auth_new(&f.app, f.keydir, &again, err, sizeof(err)), 0);
	/* Another instance loading the same files accepts the ticket. */
	CHECK_INT(auth_ticket_verify(again, t, now, user, sizeof(user)), 0);
	auth_free(again);
	snprintf(path, sizeof(path), "%s/authkey.key", f.keydir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/csrf.key", f.keydir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	/* A lost public key comes back from the private one. */
	snprintf(path, sizeof(path), "%s/authkey.pub", f.keydir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(auth_new(&f.app, f.keydir, &again, err, sizeof(err)), 0);
	CHECK_INT(auth_ticket_verify(again, t, now, user, sizeof(user)), 0);
	auth_free(again);
	/* A damaged private key is an error, never silently replaced. */
	snprintf(path, sizeof(path), "%s/authkey.key", f.keydir);
	CHECK_INT(util_write_file_atomic(path, "junk", 4, 0600), 0);
	CHECK(auth_new(&f.app, f.keydir, &again, err, sizeof(err)) < 0);
	CHECK(strstr(err, "ticket keys") != NULL);
	teardown(&f);
}

static void test_csrf(void)
{
	struct fixture f;
	char tok[AUTH_CSRF_MAX];
	time_t now = 1700000000;

	setup(&f, "csrf");
	CHECK_INT(auth_csrf_make(f.auth, "alice@pve", now, tok, sizeof(tok)), 0);
	CHECK_INT(strlen(tok), 8 + 1 + 43);
	CHECK(strncmp(tok, "6553F100:", 9) == 0);
	CHECK_INT(auth_csrf_verify(f.auth, "alice@pve", tok, now + 60), 0);
	CHECK_INT(auth_csrf_verify(f.auth, "bob@pve", tok, now), CR_ECSRF);
	CHECK_INT(auth_csrf_verify(f.auth, "alice@pve", tok, now + 7200), CR_ECSRF);
	CHECK_INT(auth_csrf_verify(f.auth, "alice@pve", "", now), CR_ECSRF);
	CHECK_INT(auth_csrf_verify(f.auth, "alice@pve", NULL, now), CR_ECSRF);
	tok[20] = tok[20] == 'x' ? 'y' : 'x';
	CHECK_INT(auth_csrf_verify(f.auth, "alice@pve", tok, now), CR_ECSRF);
	teardown(&f);
}

static void add_token(struct fixture *f, const char *full, const char *secret, int privsep)
{
	char hash[ACL_TOKEN_HASH_MAX], json[256];

	acl_token_hash(secret, hash);
	snprintf(json, sizeof(json), "{\"hash\":\"%s\",\"privsep\":%d,\"expire\":0}", hash,
		 privsep);
	put_json(f, DB_TOKENS, full, json);
}

static void test_api_tokens(void)
{
	struct fixture f;
	struct identity who;

	setup(&f, "tokens");
	add_user(&f, "ci=bot@pve", "pw-unused", 1);
	add_token(&f, "ci=bot@pve!deploy", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", 0);
	/* Split on the last '=': the user id may hold one too. */
	CHECK_INT(auth_token_verify(f.auth, "ci=bot@pve!deploy=1b4e28ba-2fa1-11d2-883f-0016d3cca427",
				    &who), 0);
	CHECK_STR(who.userid, "ci=bot@pve");
	CHECK_STR(who.tokenid, "deploy");
	CHECK_INT(who.privsep, 0);
	CHECK_INT(auth_token_verify(f.auth, "ci=bot@pve!deploy=1b4e28ba-2fa1-11d2-883f-0016d3cca428",
				    &who), CR_EAUTH);
	CHECK_INT(auth_token_verify(f.auth, "ci=bot@pve!other=1b4e28ba-2fa1-11d2-883f-0016d3cca427",
				    &who), CR_EAUTH);
	CHECK_INT(auth_token_verify(f.auth, "ci=bot@pve!deploy", &who), CR_EAUTH);
	CHECK_INT(auth_token_verify(f.auth, "ci=bot@pve!deploy=", &who), CR_EAUTH);
	CHECK_INT(auth_token_verify(f.auth, "garbage", &who), CR_EAUTH);
	teardown(&f);
}

static void test_login_pve(void)
{
	struct fixture f;
	struct identity who;

	setup(&f, "login");
	add_user(&f, "alice@pve", "alice-pw-1", 1);
	add_user(&f, "carol@pve", "carol-pw-1", 0);
	CHECK_INT(auth_login(f.auth, "alice@pve", NULL, "alice-pw-1", &who), 0);
	CHECK_STR(who.userid, "alice@pve");
	CHECK_STR(who.tokenid, "");
	CHECK_INT(auth_login(f.auth, "alice", "pve", "alice-pw-1", &who), 0);
	CHECK_INT(auth_login(f.auth, "alice@pve", "pve", "alice-pw-1", &who), 0);
	CHECK_INT(auth_login(f.auth, "alice@pve", NULL, "alice-pw-2", &who), CR_EAUTH);
	CHECK_INT(auth_login(f.auth, "alice@pve", NULL, "", &who), CR_EAUTH);
	CHECK_INT(auth_login(f.auth, "alice", NULL, "alice-pw-1", &who), CR_EAUTH);
	CHECK_INT(auth_login(f.auth, "alice@pam", NULL, "alice-pw-1", &who), CR_EAUTH);
	CHECK_INT(auth_login(f.auth, "carol@pve", NULL, "carol-pw-1", &who), CR_EAUTH);
	CHECK_INT(auth_login(f.auth, "nobody@pve", NULL, "x", &who), CR_EAUTH);
	teardown(&f);
}

static void test_login_with_ticket(void)
{
	struct fixture f;
	struct identity who;
	char t[AUTH_TICKET_MAX];

	setup(&f, "renew");
	add_user(&f, "alice@pve", "alice-pw-1", 1);
	add_user(&f, "bob@pve", "bob-pw-1", 1);
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", time(NULL), t, sizeof(t)), 0);
	CHECK_INT(auth_login(f.auth, "alice@pve", NULL, t, &who), 0);
	CHECK_STR(who.userid, "alice@pve");
	/* Re-authentication wants the real password, never a ticket. */
	CHECK_INT(auth_password_check(f.auth, "alice@pve", t), CR_EAUTH);
	CHECK_INT(auth_password_check(f.auth, "alice@pve", "alice-pw-1"), 0);
	/* alice's ticket does not open bob's account... */
	CHECK_INT(auth_login(f.auth, "bob@pve", NULL, t, &who), CR_EAUTH);
	/* ...root@pam's does, as in Proxmox. */
	CHECK_INT(auth_ticket_make(f.auth, "root@pam", time(NULL), t, sizeof(t)), 0);
	CHECK_INT(auth_login(f.auth, "bob@pve", NULL, t, &who), 0);
	/* An expired ticket is just a wrong password. */
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", time(NULL) - 7300, t, sizeof(t)), 0);
	CHECK_INT(auth_login(f.auth, "alice@pve", NULL, t, &who), CR_EAUTH);
	teardown(&f);
}

static void test_identify(void)
{
	struct fixture f;
	struct identity who;
	char t[AUTH_TICKET_MAX], hdr[AUTH_TICKET_MAX + 32], enc[3 * AUTH_TICKET_MAX];
	int is_ticket = -1;
	size_t o = 0;

	setup(&f, "identify");
	add_user(&f, "alice@pve", "alice-pw-1", 1);
	add_user(&f, "carol@pve", "carol-pw-1", 0);
	add_token(&f, "alice@pve!ci", "sekret-value", 1);
	CHECK_INT(auth_ticket_make(f.auth, "alice@pve", time(NULL), t, sizeof(t)), 0);
	CHECK_INT(auth_identify(f.auth, t, NULL, &who, &is_ticket), 0);
	CHECK_STR(who.userid, "alice@pve");
	CHECK_INT(is_ticket, 1);
	snprintf(hdr, sizeof(hdr), "PVEAuthCookie=%s", t);
	CHECK_INT(auth_identify(f.auth, NULL, hdr, &who, &is_ticket), 0);
	CHECK_INT(is_ticket, 1);
	/* A URI-encoded cookie, as a browser may send it. */
	for (const char *p = t; *p; p++)
		o += (size_t)snprintf(enc + o, sizeof(enc) - o, *p == ':' ? "%%3A" : "%c", *p);
	CHECK_INT(auth_identify(f.auth, enc, NULL, &who, &is_ticket), 0);
	CHECK_INT(auth_identify(f.auth, NULL, "PVEAPIToken=alice@pve!ci=sekret-value", &who,
				&is_ticket), 0);
	CHECK_INT(is_ticket, 0);
	CHECK_STR(who.tokenid, "ci");
	CHECK_INT(who.privsep, 1);
	CHECK_INT(auth_identify(f.auth, NULL, "PVEAPIToken alice@pve!ci=sekret-value", &who,
				&is_ticket), 0);
	CHECK_INT(auth_identify(f.auth, NULL, NULL, &who, &is_ticket), CR_ENOTICKET);
	CHECK_INT(auth_identify(f.auth, "", "", &who, &is_ticket), CR_ENOTICKET);
	CHECK_INT(auth_identify(f.auth, NULL, "Basic YWxpY2U6eA==", &who, &is_ticket),
		  CR_ENOTICKET);
	CHECK_INT(auth_identify(f.auth, "PVE:alice@pve:00000000::AAAA", NULL, &who, &is_ticket),
		  CR_EAUTH);
	/* A valid ticket of a user disabled since is refused. */
	CHECK_INT(auth_ticket_make(f.auth, "carol@pve", time(NULL), t, sizeof(t)), 0);
	CHECK_INT(auth_identify(f.auth, t, NULL, &who, &is_ticket), CR_EAUTH);
	teardown(&f);
}

static void test_bootstrap_and_check(void)
{
	struct fixture f;
	struct identity who, aud = { "aud@pve", "", 0 };
	char pw[64];
	cJSON *caps;

	setup(&f, "boot");
	CHECK_INT(auth_bootstrap_admin(f.auth, NULL, pw, sizeof(pw)), 0);
	CHECK(strlen(pw) >= 20);
	CHECK_INT(auth_login(f.auth, "admin@pve", NULL, pw, &who), 0);
	CHECK_INT(auth_check(f.auth, &who, "/vms/100", "VM.PowerMgmt"), 0);
	CHECK_INT(auth_check(f.auth, &who, "/", "Permissions.Modify"), 0);
	/* Second start: nothing changes. */
	CHECK_INT(auth_bootstrap_admin(f.auth, "other-password", pw, sizeof(pw)), 0);
	CHECK_STR(pw, "");
	CHECK_INT(auth_login(f.auth, "admin@pve", NULL, "other-password", &who), CR_EAUTH);
	/* A PVEAuditor reads but cannot power VMs. */
	add_user(&f, "aud@pve", "aud-pw-123", 1);
	put_json(&f, DB_ACL, "/\tuser\taud@pve\tPVEAuditor", "{\"propagate\":1}");
	CHECK_INT(auth_check(f.auth, &aud, "/vms/100", "VM.Audit"), 0);
	CHECK_INT(auth_check(f.auth, &aud, "/vms/100", "VM.PowerMgmt"), CR_EPERM_CHECK);
	CHECK_INT(auth_check(f.auth, &aud, "/vms/100", "VM.PowerMgmt|VM.Audit"), 0);
	CHECK_INT(auth_check(f.auth, &aud, "/nodes/n1", "Sys.PowerMgmt"), CR_EPERM_CHECK);
	CHECK_INT(auth_check(f.auth, &aud, "/", "No.Such"), CR_EPERM_CHECK);
	CHECK_INT(auth_check(f.auth, &aud, "/", PERM_USER), 0);
	CHECK_INT(auth_check(f.auth, NULL, "/", PERM_USER), CR_EPERM_CHECK);
	CHECK_INT(auth_check(f.auth, NULL, "/", PERM_WORLD), 0);
	caps = auth_caps(f.auth, &aud);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(caps, "vms"), "VM.Audit")));
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(caps, "vms"), "VM.PowerMgmt"));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(caps, "dc"), "Sys.Audit")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(caps, "access")));
	cJSON_Delete(caps);
	teardown(&f);
}

static void test_login_limiter(void)
{
	struct fixture f;
	time_t now = 1700000000;

	setup(&f, "limit");
	for (int i = 0; i < 10; i++) {
		CHECK_INT(auth_login_allowed(f.auth, "192.0.2.7", now), 0);
		auth_login_failed(f.auth, "192.0.2.7", now);
	}
	CHECK_INT(auth_login_allowed(f.auth, "192.0.2.7", now), CR_EAUTH);
	CHECK_INT(auth_login_allowed(f.auth, "192.0.2.8", now), 0);
	CHECK_INT(auth_login_allowed(f.auth, "192.0.2.7", now + 6), 0);
	auth_login_failed(f.auth, "192.0.2.7", now + 6);
	CHECK_INT(auth_login_allowed(f.auth, "192.0.2.7", now + 6), CR_EAUTH);
	CHECK_INT(auth_login_allowed(f.auth, "192.0.2.7", now + 3600), 0);
	teardown(&f);
}

struct checker {
	struct auth *auth;
	int failures;
};

static void *check_loop(void *arg)
{
	struct checker *c = arg;
	struct identity admin = { "admin@pve", "", 0 }, aud = { "aud@pve", "", 0 };

	for (int i = 0; i < 3000; i++) {
		if (auth_check(c->auth, &admin, "/vms/100", "VM.PowerMgmt") != 0)
			c->failures++;
		if (auth_check(c->auth, &aud, "/vms/100", "VM.PowerMgmt") == 0)
			c->failures++;
	}
	return NULL;
}

/* Checks on four threads while the access configuration keeps changing:
 * snapshots are swapped under readers without a wrong answer (and, under
 * ASan, without a use after free). */
static void test_snapshot_swaps(void)
{
	struct fixture f;
	struct checker c[4];
	pthread_t th[4];
	char key[64], pw[64];

	setup(&f, "swap");
	CHECK_INT(auth_bootstrap_admin(f.auth, "admin-pw-123", pw, sizeof(pw)), 0);
	add_user(&f, "aud@pve", "aud-pw-123", 1);
	for (int i = 0; i < 4; i++) {
		c[i] = (struct checker){ f.auth, 0 };
		CHECK_INT(pthread_create(&th[i], NULL, check_loop, &c[i]), 0);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "/vms/%d\tuser\taud@pve\tPVEAuditor", 100 + i % 7);
		put_json(&f, DB_ACL, key, "{\"propagate\":1}");
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(c[i].failures, 0);
	}
	teardown(&f);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* PAM with a real system user made for the test (as root); otherwise only
 * refusals can be checked. */
static void test_pam_realm(void)
{
	struct fixture f;
	struct identity who;
	char user[64], cmd[320], id[96], json[] = "{\"enable\":1,\"expire\":0}";

	setup(&f, "pam");
	CHECK_INT(auth_pam_login("corral-nobody-here", "x-password"), CR_EAUTH);
	CHECK_INT(auth_pam_login("root", ""), CR_EAUTH);
	CHECK_INT(auth_pam_set_password("a:b", "x-password"), -EINVAL);
	CHECK(auth_pam_set_password("corral-nobody-here", "x-password") < 0);
	if (geteuid() == 0) {
		snprintf(user, sizeof(user), "crltest%d", (int)getpid() % 100000);
		/* Retried: another useradd may hold the passwd lock for a moment. */
		snprintf(cmd, sizeof(cmd), "for i in 1 2 3 4 5; do useradd -M -s /usr/sbin/nologin "
			 "%s && break; sleep 1; done && echo '%s:Pam-Test-Pw-9' | chpasswd", user, user);
		CHECK_INT(run(cmd), 0);
		CHECK_INT(auth_pam_login(user, "Pam-Test-Pw-9"), 0);
		CHECK_INT(auth_pam_login(user, "Pam-Test-Pw-8"), CR_EAUTH);
		snprintf(id, sizeof(id), "%s@pam", user);
		/* A pam user must also be known to Corral. */
		CHECK_INT(auth_login(f.auth, id, NULL, "Pam-Test-Pw-9", &who), CR_EAUTH);
		put_json(&f, DB_USERS, id, json);
		CHECK_INT(auth_login(f.auth, user, "pam", "Pam-Test-Pw-9", &who), 0);
		CHECK_STR(who.userid, id);
		/* Password changes go to the system (chpasswd). */
		CHECK_INT(auth_pam_set_password(user, "Pam-Test-Pw-10"), 0);
		CHECK_INT(auth_pam_login(user, "Pam-Test-Pw-9"), CR_EAUTH);
		CHECK_INT(auth_pam_login(user, "Pam-Test-Pw-10"), 0);
		CHECK_INT(auth_pam_set_password(user, "two\nlines"), -EINVAL);
		snprintf(cmd, sizeof(cmd), "for i in 1 2 3 4 5; do userdel %s && break; sleep 1; done",
			 user);
		CHECK_INT(run(cmd), 0);
	}
	teardown(&f);
}

static const struct test_case tests[] = {
	{ "ticket round trip and lifetime", test_ticket_round_trip },
	{ "tampered tickets", test_ticket_tampered },
	{ "ticket user escaping", test_ticket_escaping },
	{ "keys persist and verify across instances", test_keys_persist },
	{ "CSRF tokens", test_csrf },
	{ "API tokens split on the last '='", test_api_tokens },
	{ "pve realm login", test_login_pve },
	{ "login with a ticket as password", test_login_with_ticket },
	{ "identify cookie, header, token", test_identify },
	{ "bootstrap admin and privilege checks", test_bootstrap_and_check },
	{ "failed-login limiter", test_login_limiter },
	{ "snapshot swaps under concurrent checks", test_snapshot_swaps },
	{ "pam realm", test_pam_realm },
};

TEST_MAIN(tests)
