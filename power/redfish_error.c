/*
 * redfish_error.c - what a Redfish BMC's error body says, for messages to
 * clients: a one-line summary of error.message and @Message.ExtendedInfo
 * (bounded, control characters dropped) and whether it mentions a word.
 * Pure parsing, no I/O (declared in redfish_parse.h).  Any thread.
 */
#include "power/redfish_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

/* ---- error bodies ---- */

struct summary {
	char *out;
	size_t size;
	size_t len;
	bool full;
};

/* Appends s, control characters as spaces, cut at a UTF-8 boundary. */
static void
summary_add(struct summary *sm, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && !sm->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (sm->len + 1 >= sm->size) {
			sm->full = true;
			/* Do not leave half a multi-byte character behind. */
			while (sm->len > 0 && (sm->out[sm->len - 1] & 0xc0) ==
			    0x80)
				sm->len--;
			if (sm->len > 0 && (sm->out[sm->len - 1] & 0xc0) ==
			    0xc0)
				sm->len--;
			break;
		}
		sm->out[sm->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	sm->out[sm->len] = '\0';
}

/* Appends the 'key' member of every entry of an ExtendedInfo array. */
static void
summary_info(struct summary *sm, const json_t *info, const char *key)
{
	size_t i;
	json_t *m, *text;

	if (!json_is_array(info))
		return;
	json_array_foreach(info, i, m) {
		text = json_object_get(m, key);
		if (!json_is_string(text) || json_string_length(text) == 0)
			continue;
		if (sm->len > 0)
			summary_add(sm, "; ");
		summary_add(sm, json_string_value(text));
	}
}

static void
summary_string(struct summary *sm, const json_t *text)
{
	if (json_is_string(text) && json_string_length(text) > 0)
		summary_add(sm, json_string_value(text));
}

size_t
lb_redfish_error_summary(const char *body, size_t len, char *out,
    size_t size)
{
	struct summary sm = { .out = out, .size = size };
	json_t *j, *error, *info, *top;

	if (size == 0)
		return 0;
	out[0] = '\0';
	if (body == NULL || len == 0)
		return 0;
	j = json_loadb(body, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;
	}
	error = json_object_get(j, "error");
	info = json_object_get(error, "@Message.ExtendedInfo");
	top = json_object_get(j, "@Message.ExtendedInfo");
	/* Most specific first: messages, then the summary, then ids. */
	summary_info(&sm, info, "Message");
	if (sm.len == 0)
		summary_info(&sm, top, "Message");
	if (sm.len == 0)
		summary_string(&sm, json_object_get(error, "message"));
	if (sm.len == 0)
		summary_info(&sm, info, "MessageId");
	if (sm.len == 0)
		summary_info(&sm, top, "MessageId");
	if (sm.len == 0)
		summary_string(&sm, json_object_get(error, "code"));
	json_decref(j);
	return sm.len;
}

static bool
string_mentions(const json_t *v, const char *word)
{
	return json_is_string(v) && strstr(json_string_value(v), word) != NULL;
}

static bool
strings_mention(const json_t *arr, const char *word)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (string_mentions(v, word))
			return true;
	return false;
}

static bool
info_mentions(const json_t *info, const char *word)
{
	size_t i;
	json_t *m;

	json_array_foreach(info, i, m) {
		if (string_mentions(json_object_get(m, "MessageId"), word) ||
		    string_mentions(json_object_get(m, "Message"), word) ||
		    strings_mention(json_object_get(m, "MessageArgs"), word) ||
		    strings_mention(json_object_get(m, "RelatedProperties"),
		    word))
			return true;
	}
	return false;
}

bool
lb_redfish_error_mentions(const char *body, size_t len, const char *word)
{
	json_t *j, *error;
	bool found;

	if (body == NULL || len == 0 || word == NULL || word[0] == '\0')
		return false;
	j = json_loadb(body, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return false;
	}
	error = json_object_get(j, "error");
	found = string_mentions(json_object_get(error, "code"), word) ||
	    string_mentions(json_object_get(error, "message"), word) ||
	    info_mentions(json_object_get(error, "@Message.ExtendedInfo"),
	    word) ||
	    info_mentions(json_object_get(j, "@Message.ExtendedInfo"), word);
	json_decref(j);
	return found;
}
