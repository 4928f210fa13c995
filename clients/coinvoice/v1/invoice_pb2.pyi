import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_NEW: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PROCESSING: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_EXPIRED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_UNRESOLVED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_REFUNDED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_CANCELLED: _ClassVar[InvoiceStatus]

class UnresolvedReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNRESOLVED_REASON_UNSPECIFIED: _ClassVar[UnresolvedReason]
    UNRESOLVED_REASON_UNDERPAID: _ClassVar[UnresolvedReason]
    UNRESOLVED_REASON_OVERPAID: _ClassVar[UnresolvedReason]
    UNRESOLVED_REASON_PAID_LATE: _ClassVar[UnresolvedReason]

class PaymentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATE_UNSPECIFIED: _ClassVar[PaymentState]
    PAYMENT_STATE_PENDING: _ClassVar[PaymentState]
    PAYMENT_STATE_CONFIRMING: _ClassVar[PaymentState]
    PAYMENT_STATE_CONFIRMED: _ClassVar[PaymentState]
    PAYMENT_STATE_REORGED: _ClassVar[PaymentState]

class InvoiceEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_EVENT_TYPE_UNSPECIFIED: _ClassVar[InvoiceEventType]
    INVOICE_CREATED: _ClassVar[InvoiceEventType]
    INVOICE_UPDATED: _ClassVar[InvoiceEventType]
    PAYMENT_DETECTED: _ClassVar[InvoiceEventType]
    PAYMENT_CONFIRMED: _ClassVar[InvoiceEventType]
    PAYMENT_REORGED: _ClassVar[InvoiceEventType]
    INVOICE_PAID: _ClassVar[InvoiceEventType]
    INVOICE_EXPIRED: _ClassVar[InvoiceEventType]
    INVOICE_UNRESOLVED: _ClassVar[InvoiceEventType]
    INVOICE_RESOLVED: _ClassVar[InvoiceEventType]
    INVOICE_CANCELLED: _ClassVar[InvoiceEventType]

class Resolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOLUTION_UNSPECIFIED: _ClassVar[Resolution]
    RESOLUTION_ACCEPT: _ClassVar[Resolution]
    RESOLUTION_REFUND: _ClassVar[Resolution]

class CallbackState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALLBACK_STATE_UNSPECIFIED: _ClassVar[CallbackState]
    CALLBACK_STATE_PENDING: _ClassVar[CallbackState]
    CALLBACK_STATE_DELIVERED: _ClassVar[CallbackState]
    CALLBACK_STATE_FAILED: _ClassVar[CallbackState]
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
INVOICE_STATUS_NEW: InvoiceStatus
INVOICE_STATUS_PROCESSING: InvoiceStatus
INVOICE_STATUS_PAID: InvoiceStatus
INVOICE_STATUS_EXPIRED: InvoiceStatus
INVOICE_STATUS_UNRESOLVED: InvoiceStatus
INVOICE_STATUS_REFUNDED: InvoiceStatus
INVOICE_STATUS_CANCELLED: InvoiceStatus
UNRESOLVED_REASON_UNSPECIFIED: UnresolvedReason
UNRESOLVED_REASON_UNDERPAID: UnresolvedReason
UNRESOLVED_REASON_OVERPAID: UnresolvedReason
UNRESOLVED_REASON_PAID_LATE: UnresolvedReason
PAYMENT_STATE_UNSPECIFIED: PaymentState
PAYMENT_STATE_PENDING: PaymentState
PAYMENT_STATE_CONFIRMING: PaymentState
PAYMENT_STATE_CONFIRMED: PaymentState
PAYMENT_STATE_REORGED: PaymentState
INVOICE_EVENT_TYPE_UNSPECIFIED: InvoiceEventType
INVOICE_CREATED: InvoiceEventType
INVOICE_UPDATED: InvoiceEventType
PAYMENT_DETECTED: InvoiceEventType
PAYMENT_CONFIRMED: InvoiceEventType
PAYMENT_REORGED: InvoiceEventType
INVOICE_PAID: InvoiceEventType
INVOICE_EXPIRED: InvoiceEventType
INVOICE_UNRESOLVED: InvoiceEventType
INVOICE_RESOLVED: InvoiceEventType
INVOICE_CANCELLED: InvoiceEventType
RESOLUTION_UNSPECIFIED: Resolution
RESOLUTION_ACCEPT: Resolution
RESOLUTION_REFUND: Resolution
CALLBACK_STATE_UNSPECIFIED: CallbackState
CALLBACK_STATE_PENDING: CallbackState
CALLBACK_STATE_DELIVERED: CallbackState
CALLBACK_STATE_FAILED: CallbackState

class Invoice(_message.Message):
    __slots__ = ("id", "tracking_id", "label", "status", "unresolved_reason", "currency", "amount", "paid_amount", "confirmed_amount", "payment_options", "payments", "required_confirmations", "created_at", "updated_at", "expires_at", "monitor_until", "metadata", "resolution_note", "callback_url")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MONITOR_UNTIL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    tracking_id: str
    label: str
    status: InvoiceStatus
    unresolved_reason: UnresolvedReason
    currency: str
    amount: str
    paid_amount: str
    confirmed_amount: str
    payment_options: _containers.RepeatedCompositeFieldContainer[PaymentOption]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    required_confirmations: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    monitor_until: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    resolution_note: str
    callback_url: str
    def __init__(self, id: _Optional[str] = ..., tracking_id: _Optional[str] = ..., label: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., unresolved_reason: _Optional[_Union[UnresolvedReason, str]] = ..., currency: _Optional[str] = ..., amount: _Optional[str] = ..., paid_amount: _Optional[str] = ..., confirmed_amount: _Optional[str] = ..., payment_options: _Optional[_Iterable[_Union[PaymentOption, _Mapping]]] = ..., payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., required_confirmations: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., monitor_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., resolution_note: _Optional[str] = ..., callback_url: _Optional[str] = ...) -> None: ...

class PaymentOption(_message.Message):
    __slots__ = ("asset", "chain", "address", "amount_due", "rate", "payment_uri", "required_confirmations")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_URI_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    asset: str
    chain: str
    address: str
    amount_due: str
    rate: str
    payment_uri: str
    required_confirmations: int
    def __init__(self, asset: _Optional[str] = ..., chain: _Optional[str] = ..., address: _Optional[str] = ..., amount_due: _Optional[str] = ..., rate: _Optional[str] = ..., payment_uri: _Optional[str] = ..., required_confirmations: _Optional[int] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("asset", "chain", "txid", "index", "amount", "block_height", "block_hash", "confirmations", "state", "seen_at", "late", "address")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    TXID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    asset: str
    chain: str
    txid: str
    index: int
    amount: str
    block_height: int
    block_hash: str
    confirmations: int
    state: PaymentState
    seen_at: _timestamp_pb2.Timestamp
    late: bool
    address: str
    def __init__(self, asset: _Optional[str] = ..., chain: _Optional[str] = ..., txid: _Optional[str] = ..., index: _Optional[int] = ..., amount: _Optional[str] = ..., block_height: _Optional[int] = ..., block_hash: _Optional[str] = ..., confirmations: _Optional[int] = ..., state: _Optional[_Union[PaymentState, str]] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., late: _Optional[bool] = ..., address: _Optional[str] = ...) -> None: ...

class CreateInvoiceRequest(_message.Message):
    __slots__ = ("amount", "currency", "accepted_assets", "tracking_id", "label", "expires_in_seconds", "required_confirmations", "metadata", "request_id", "callback_url", "callback_secret")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_ASSETS_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_SECRET_FIELD_NUMBER: _ClassVar[int]
    amount: str
    currency: str
    accepted_assets: _containers.RepeatedScalarFieldContainer[str]
    tracking_id: str
    label: str
    expires_in_seconds: int
    required_confirmations: int
    metadata: _containers.ScalarMap[str, str]
    request_id: str
    callback_url: str
    callback_secret: str
    def __init__(self, amount: _Optional[str] = ..., currency: _Optional[str] = ..., accepted_assets: _Optional[_Iterable[str]] = ..., tracking_id: _Optional[str] = ..., label: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., required_confirmations: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ..., callback_url: _Optional[str] = ..., callback_secret: _Optional[str] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("id", "tracking_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    tracking_id: str
    def __init__(self, id: _Optional[str] = ..., tracking_id: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("statuses", "created_after", "created_before", "tracking_id", "page_size", "page_token")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[InvoiceStatus]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    tracking_id: str
    page_size: int
    page_token: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[InvoiceStatus, str]]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tracking_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateInvoiceRequest(_message.Message):
    __slots__ = ("id", "update_mask", "label", "tracking_id", "metadata", "expires_in_seconds", "amount", "callback_url", "callback_secret")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_SECRET_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    label: str
    tracking_id: str
    metadata: _containers.ScalarMap[str, str]
    expires_in_seconds: int
    amount: str
    callback_url: str
    callback_secret: str
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ..., tracking_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., expires_in_seconds: _Optional[int] = ..., amount: _Optional[str] = ..., callback_url: _Optional[str] = ..., callback_secret: _Optional[str] = ...) -> None: ...

class CancelInvoiceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ResolveInvoiceRequest(_message.Message):
    __slots__ = ("id", "resolution", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    resolution: Resolution
    note: str
    def __init__(self, id: _Optional[str] = ..., resolution: _Optional[_Union[Resolution, str]] = ..., note: _Optional[str] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "invoice_id")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    invoice_id: str
    def __init__(self, after_sequence: _Optional[int] = ..., invoice_id: _Optional[str] = ...) -> None: ...

class InvoiceEvent(_message.Message):
    __slots__ = ("sequence", "type", "invoice", "payment", "created_at")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: InvoiceEventType
    invoice: Invoice
    payment: Payment
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[_Union[InvoiceEventType, str]] = ..., invoice: _Optional[_Union[Invoice, _Mapping]] = ..., payment: _Optional[_Union[Payment, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("version", "profile", "chains", "last_event_sequence")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    version: str
    profile: str
    chains: _containers.RepeatedCompositeFieldContainer[ChainInfo]
    last_event_sequence: int
    def __init__(self, version: _Optional[str] = ..., profile: _Optional[str] = ..., chains: _Optional[_Iterable[_Union[ChainInfo, _Mapping]]] = ..., last_event_sequence: _Optional[int] = ...) -> None: ...

class ChainInfo(_message.Message):
    __slots__ = ("name", "kind", "connected", "tip_height", "processed_height", "lag", "assets", "state", "endpoint", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    TIP_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    connected: bool
    tip_height: int
    processed_height: int
    lag: int
    assets: _containers.RepeatedScalarFieldContainer[str]
    state: str
    endpoint: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., connected: _Optional[bool] = ..., tip_height: _Optional[int] = ..., processed_height: _Optional[int] = ..., lag: _Optional[int] = ..., assets: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ..., endpoint: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("id", "label", "permissions", "created_at", "revoked_at", "last_used_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    label: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("permissions", "label")
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    permissions: _containers.RepeatedScalarFieldContainer[str]
    label: str
    def __init__(self, permissions: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BackupDatabaseRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BackupChunk(_message.Message):
    __slots__ = ("data", "sha256")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    sha256: str
    def __init__(self, data: _Optional[bytes] = ..., sha256: _Optional[str] = ...) -> None: ...

class CallbackDelivery(_message.Message):
    __slots__ = ("id", "invoice_id", "event_sequence", "event_type", "url", "state", "attempts", "last_status_code", "last_error", "next_attempt_at", "created_at", "delivered_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    invoice_id: str
    event_sequence: int
    event_type: InvoiceEventType
    url: str
    state: CallbackState
    attempts: int
    last_status_code: int
    last_error: str
    next_attempt_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., event_sequence: _Optional[int] = ..., event_type: _Optional[_Union[InvoiceEventType, str]] = ..., url: _Optional[str] = ..., state: _Optional[_Union[CallbackState, str]] = ..., attempts: _Optional[int] = ..., last_status_code: _Optional[int] = ..., last_error: _Optional[str] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCallbacksRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class ListCallbacksResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[CallbackDelivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[CallbackDelivery, _Mapping]]] = ...) -> None: ...

class RedeliverCallbackRequest(_message.Message):
    __slots__ = ("delivery_id",)
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    def __init__(self, delivery_id: _Optional[str] = ...) -> None: ...

class GetRatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRatesResponse(_message.Message):
    __slots__ = ("rates",)
    RATES_FIELD_NUMBER: _ClassVar[int]
    rates: _containers.RepeatedCompositeFieldContainer[ExchangeRate]
    def __init__(self, rates: _Optional[_Iterable[_Union[ExchangeRate, _Mapping]]] = ...) -> None: ...

class ExchangeRate(_message.Message):
    __slots__ = ("base", "quote", "value", "source", "fetched_at", "age_seconds", "fresh", "error")
    BASE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FRESH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    base: str
    quote: str
    value: str
    source: str
    fetched_at: _timestamp_pb2.Timestamp
    age_seconds: int
    fresh: bool
    error: str
    def __init__(self, base: _Optional[str] = ..., quote: _Optional[str] = ..., value: _Optional[str] = ..., source: _Optional[str] = ..., fetched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., age_seconds: _Optional[int] = ..., fresh: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...
