include $(sort $(wildcard $(BR2_EXTERNAL_EDGECOMPUTE_PATH)/package/*/*.mk))
