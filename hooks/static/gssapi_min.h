/*
 * The few GSSAPI (RFC 2744) types and functions that hooks/static/startup.c
 * forwards to libgssapi_krb5 and its test calls, declared here so that
 * neither needs the Kerberos headers installed. The layouts are the C
 * bindings' own (MIT and Heimdal agree on them); only what the shims use.
 */
#ifndef GITGATE_HOOK_GSSAPI_MIN_H
#define GITGATE_HOOK_GSSAPI_MIN_H

#include <stddef.h>
#include <stdint.h>

#define GSS_S_FAILURE  (13u << 16) /* a routine error */
#define GSS_C_GSS_CODE 1           /* gss_display_status: status is a major code */

typedef uint32_t OM_uint32;
typedef struct {
	OM_uint32 length;
	void *elements;
} gss_OID_desc;
typedef gss_OID_desc *gss_OID;
typedef struct {
	size_t length;
	void *value;
} gss_buffer_desc;
typedef gss_buffer_desc *gss_buffer_t;
typedef void *gss_name_t, *gss_ctx_id_t, *gss_cred_id_t, *gss_OID_set, *gss_chan_t;

extern gss_OID GSS_C_NT_HOSTBASED_SERVICE;

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, gss_ctx_id_t *ctx, gss_buffer_t out);
OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_t name, gss_OID type, gss_name_t *out);
OM_uint32 gss_indicate_mechs(OM_uint32 *minor, gss_OID_set *out);
OM_uint32 gss_init_sec_context(OM_uint32 *minor, gss_cred_id_t cred, gss_ctx_id_t *ctx,
                               gss_name_t target, gss_OID mech, OM_uint32 flags, OM_uint32 time_req,
                               gss_chan_t chan, gss_buffer_t in, gss_OID *actual_mech,
                               gss_buffer_t out, OM_uint32 *ret_flags, OM_uint32 *time_rec);
OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_t buf);
OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name);
OM_uint32 gss_release_oid_set(OM_uint32 *minor, gss_OID_set *set);
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech,
                             OM_uint32 *context, gss_buffer_t out);

#endif
