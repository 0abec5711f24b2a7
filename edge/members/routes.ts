import { createRoute } from '@hono/zod-openapi';
import { Booking, BookingCreate, IdParam, Member, MemberCreate, MemberListQuery, MemberPin, MemberPinSet, MemberUpdate, page } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../lib/openapi.ts';
import { Deleted, ownerResource } from '../lib/resource-routes.ts';

const tags = ['Members'];

const member = ownerResource({ path: '/v1/members', tags, item: Member, one: 'member', many: 'Members' , permissions: { read: 'members:read', write: 'members:write' } });

export const listMembers = member.list('List members', MemberListQuery);
export const createMember = member.create('Add a member', MemberCreate);
export const getMember = member.get('Get a member');
export const updateMember = member.update(
  'Update a member; a change to status or access reaches the doors at once. A member a subscription bills is frozen, suspended or ended through the subscription (409 otherwise)',
  MemberUpdate,
  409,
);
export const listBookings = createRoute({
  method: 'get', path: '/v1/members/{id}/bookings', 'x-permission': 'bookings:read', tags, security: ownerAuth, summary: "A member's class bookings",
  request: { params: IdParam },
  responses: { 200: json(page(Booking), 'Bookings'), ...problems(401, 404) },
});
export const createBooking = createRoute({
  method: 'post', path: '/v1/members/{id}/bookings', 'x-permission': 'bookings:write', tags, security: ownerAuth,
  summary: 'Book a class: its door group opens for the member from N minutes before the start',
  request: { params: IdParam, body: jsonBody(BookingCreate) },
  responses: { 201: json(Booking, 'The booking'), ...problems(400, 401, 404) },
});
export const deleteBooking = createRoute({
  method: 'delete', path: '/v1/bookings/{id}', 'x-permission': 'bookings:write', tags, security: ownerAuth, summary: 'Cancel a booking',
  request: { params: IdParam },
  responses: { 200: json(Deleted, 'Deleted'), ...problems(401, 404) },
});
export const setMemberPin = createRoute({
  method: 'put', path: '/v1/members/{id}/pin', 'x-permission': 'credentials:write', tags, security: ownerAuth,
  summary: 'Set the PIN the member types after the card at card + PIN doors (hashed here; doors get only the verifier)',
  request: { params: IdParam, body: jsonBody(MemberPinSet) },
  responses: { 200: json(MemberPin, 'The member has a PIN'), ...problems(400, 401, 404) },
});
export const clearMemberPin = createRoute({
  method: 'delete', path: '/v1/members/{id}/pin', 'x-permission': 'credentials:write', tags, security: ownerAuth,
  summary: "Remove the member's PIN (card + PIN doors then refuse the member)",
  request: { params: IdParam },
  responses: { 200: json(MemberPin, 'The member has no PIN'), ...problems(401, 404) },
});
